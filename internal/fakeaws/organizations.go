package fakeaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Organizations speaks the JSON 1.1 protocol: the action is in the
// X-Amz-Target header, the input and output are JSON, and an error is a 400
// (500 for ServiceException) whose body's __type names it.

// ListAccounts is the Organizations action the fake answers. It acts in the
// caller's account: its latency, faults and request log are that account's.
const ListAccounts = "ListAccounts"

const orgTargetPrefix = "AWSOrganizationsV20161128."

// maxOrgPage is the most accounts Organizations returns in one
// ListAccounts page.
const maxOrgPage = 20

// OrgAccount is an account of the fake's organization.
type OrgAccount struct {
	ID, Name string
	// State is ACTIVE when "".
	State string
}

type organization struct {
	accounts []OrgAccount
	pageSize int
}

// SetOrganization puts the default account at the head of an organization
// whose ListAccounts lists list, in this order, pageSize accounts a page
// (MaxResults lowers it; 0 or more than 20 means Organizations' 20). Each
// account of list becomes an account of the fake that roles can be assumed
// into. Without an organization, ListAccounts answers
// AWSOrganizationsNotInUseException.
func (s *Server) SetOrganization(list []OrgAccount, pageSize int) {
	if pageSize <= 0 || pageSize > maxOrgPage {
		pageSize = maxOrgPage
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org = &organization{accounts: slices.Clone(list), pageSize: pageSize}
	for _, a := range list {
		s.accountLocked(a.ID)
	}
}

// OnListAccountsPage calls hook with the number of the page (0 for the
// first) before each ListAccounts answer, after its latency and before its
// faults; the answer waits for hook to return. ctx ends when the client
// gives up or the server closes. nil removes the hook.
func (s *Server) OnListAccountsPage(hook func(ctx context.Context, page int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgHook = hook
}

type jsonError struct {
	status  int
	code    string
	message string
}

// serveJSON answers an Organizations call.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, target string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "SerializationException"}, s.requestID())
		return
	}
	action, _ := strings.CutPrefix(target, orgTargetPrefix)

	s.mu.Lock()
	requestID := s.nextRequestIDLocked()
	var caller identity
	var account *Account
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m != nil {
		caller = s.identityLocked(m[1])
		account = s.accounts[caller.account]
	}
	s.total++
	s.requests[RequestKey{Account: caller.account, Action: action}]++
	var latency time.Duration
	if account != nil {
		latency = account.latency
	}
	s.mu.Unlock()

	switch {
	case !strings.HasPrefix(target, orgTargetPrefix) || action != ListAccounts:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "UnknownOperationException"}, requestID)
		return
	case m == nil:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "MissingAuthenticationTokenException", message: "Missing Authentication Token"}, requestID)
		return
	case account == nil:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "UnrecognizedClientException", message: "The security token included in the request is invalid."}, requestID)
		return
	}
	var in struct {
		NextToken  string
		MaxResults int
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "SerializationException"}, requestID)
		return
	}
	page, offset := 0, 0
	if in.NextToken != "" {
		p, o, ok := strings.Cut(in.NextToken, "/")
		var perr, oerr error
		page, perr = strconv.Atoi(p)
		offset, oerr = strconv.Atoi(o)
		if !ok || perr != nil || oerr != nil || page < 0 || offset < 0 {
			writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "InvalidInputException", message: "You provided an invalid NextToken."}, requestID)
			return
		}
	}

	if latency > 0 && !s.sleep(r.Context(), latency) {
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	hook := s.orgHook
	s.mu.Unlock()
	if hook != nil {
		ctx, cancel := context.WithCancel(r.Context())
		go func() {
			select {
			case <-s.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		hook(ctx, page)
		cancel()
	}

	s.mu.Lock()
	fault := account.popFaultLocked(action)
	org := s.org
	s.mu.Unlock()
	switch {
	case fault != nil && fault.garbage:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", requestID)
		_, _ = io.WriteString(w, "<html><body>502 upstream says hello</body")
		return
	case fault != nil:
		e := jsonError{status: http.StatusBadRequest, code: fault.code}
		switch fault.code {
		case "ServiceException":
			e.status = http.StatusInternalServerError
		case "AccessDeniedException":
			e.message = fmt.Sprintf("User: %s is not authorized to perform: organizations:ListAccounts", caller.arn)
		case "TooManyRequestsException":
			e.message = "AWS Organizations can't complete your request because another request is already in progress."
		}
		writeJSONError(w, e, requestID)
		return
	case org == nil:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "AWSOrganizationsNotInUseException",
			message: "Your account is not a member of an organization."}, requestID)
		return
	}

	size := org.pageSize
	if in.MaxResults > 0 && in.MaxResults < size {
		size = in.MaxResults
	}
	type orgAccount struct {
		Id, Arn, Name, Email, State, Status, JoinedMethod string
	}
	var out struct {
		Accounts  []orgAccount
		NextToken string `json:",omitempty"`
	}
	out.Accounts = []orgAccount{}
	end := min(offset+size, len(org.accounts))
	for _, a := range org.accounts[min(offset, end):end] {
		state := a.State
		if state == "" {
			state = "ACTIVE"
		}
		// Status is ACTIVE or SUSPENDED; AWS retires it in 2026.
		status := "ACTIVE"
		if state != "ACTIVE" {
			status = "SUSPENDED"
		}
		out.Accounts = append(out.Accounts, orgAccount{
			Id: a.ID, Name: a.Name, State: state, Status: status, JoinedMethod: "CREATED",
			Arn:   fmt.Sprintf("arn:aws:organizations::%s:account/o-fake00000/%s", s.defaultAccount, a.ID),
			Email: a.ID + "@example.com",
		})
	}
	if end < len(org.accounts) {
		out.NextToken = fmt.Sprintf("%d/%d", page+1, end)
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func writeJSONError(w http.ResponseWriter, e jsonError, requestID string) {
	body := map[string]string{"__type": e.code}
	if e.message != "" {
		body["Message"] = e.message
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
