package fakeaws

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tag is an IAM tag.
type Tag struct{ Key, Value string }

// AccessKey is one access key of a user.
type AccessKey struct {
	ID      string
	Created time.Time
	Active  bool
}

// User is an IAM user as the enrichment calls see it. Every user has the
// path "/", and GetAccountAuthorizationDetails dates every user
// 2020-01-01T00:00:00Z: the exporter takes creation times from the report.
type User struct {
	Name       string
	Tags       []Tag
	AccessKeys []AccessKey
}

// PasswordPolicy is the account password policy; its fields are those of
// IAM's. IAM sends MaxPasswordAge only when passwords expire and
// PasswordReusePrevention only when it is set, hence the omitempty tags.
type PasswordPolicy struct {
	MinimumPasswordLength int
	RequireSymbols, RequireNumbers, RequireUppercaseCharacters, RequireLowercaseCharacters,
	AllowUsersToChangePassword, ExpirePasswords, HardExpiry bool
	MaxPasswordAge, PasswordReusePrevention int `xml:",omitempty"`
}

// accountCreated is when every account of the fake, and every user in it,
// was created.
var accountCreated = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	// maxAccessKeys is IAM's quota of access keys per user, and the number
	// of key slots in the report.
	maxAccessKeys = 2

	// defaultMaxItems and maxMaxItems are IAM's MaxItems default and bound.
	defaultMaxItems = 100
	maxMaxItems     = 1000
)

// entityTypes are the values IAM accepts in GetAccountAuthorizationDetails'
// Filter.
var entityTypes = []string{"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"}

// SetUsers replaces the account's IAM users, which
// GetAccountAuthorizationDetails and ListAccessKeys answer from. They are
// independent of the report set with SetCSV/SetReport, as in AWS where the
// report lags behind by up to 4 hours; ReportCSV builds a matching report.
// It panics on users IAM could not hold: more than two access keys, or two
// names that differ only in case.
func (a *Account) SetUsers(users []User) {
	sorted := sortedUsers(users)
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.users = sorted
}

// SetPageSize makes every GetAccountAuthorizationDetails page hold at most n
// users whatever MaxItems asks, as IAM may return fewer items than asked
// while IsTruncated is true. 0 restores the default: MaxItems alone.
func (a *Account) SetPageSize(n int) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.pageSize = max(n, 0)
}

// SetEndlessListing(true, period) makes GetAccountAuthorizationDetails
// answer every request, whatever its Marker, with no users, IsTruncated and
// a Marker, as a broken or hostile endpoint could: the markers repeat every
// period answers (A, B, A, B… with 2), or never when period is 0.
// SetEndlessListing(false, 0) restores the account's users.
func (a *Account) SetEndlessListing(on bool, period int) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.endless = nil
	if on {
		a.endless = &endlessListing{period: max(period, 0)}
	}
}

// endlessListing is the state of SetEndlessListing: answers sent so far.
type endlessListing struct {
	period, sent int
}

// nextMarker returns the Marker of the next endless answer.
func (e *endlessListing) nextMarker() string {
	n := e.sent
	e.sent++
	if e.period > 0 {
		n %= e.period
	}
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s/endless/%d", GetAccountAuthorizationDetails, n))
}

// MisdirectAccessKeys makes ListAccessKeys for the user asked answer with
// the keys of user owner, each with owner's UserName, as a broken or
// hostile endpoint could; owner "" restores the asked user's own keys.
// Both users must exist when ListAccessKeys is called.
func (a *Account) MisdirectAccessKeys(asked, owner string) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.misdirected == nil {
		a.misdirected = map[string]string{}
	}
	if owner == "" {
		delete(a.misdirected, strings.ToLower(asked))
		return
	}
	a.misdirected[strings.ToLower(asked)] = owner
}

// SetPasswordPolicy sets the policy; nil removes it (NoSuchEntity).
func (a *Account) SetPasswordPolicy(p *PasswordPolicy) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if p == nil {
		a.passwordPolicy = nil
		return
	}
	policy := *p
	a.passwordPolicy = &policy
}

// ReportCSV returns a credential report in the current 22-column layout with
// a root row for account and one row per user: created at created, no
// password, each access key in its slot in the given order (slot 1 =
// AccessKeys[0]), last_rotated = the key's Created truncated to the second
// (as AWS writes it), never used. Users come in AWS's order, by name with
// case ignored. It panics on the users SetUsers refuses.
func ReportCSV(account string, created time.Time, users []User) []byte {
	rows := [][]string{
		reportColumns,
		{"<root_account>", fmt.Sprintf("arn:aws:iam::%s:root", account), date(created),
			"not_supported", "no_information", "not_supported", "not_supported", "true",
			"false", "N/A", "N/A", "N/A", "N/A",
			"false", "N/A", "N/A", "N/A", "N/A",
			"false", "N/A", "false", "N/A"},
	}
	for _, u := range sortedUsers(users) {
		row := []string{u.Name, userARN(account, u.Name), date(created), "false", "N/A", "N/A", "N/A", "false"}
		for slot := range maxAccessKeys {
			if slot < len(u.AccessKeys) {
				k := u.AccessKeys[slot]
				row = append(row, strconv.FormatBool(k.Active), date(k.Created), "N/A", "N/A", "N/A")
			} else {
				row = append(row, "false", "N/A", "N/A", "N/A", "N/A")
			}
		}
		rows = append(rows, append(row, "false", "N/A", "false", "N/A"))
	}
	var b bytes.Buffer
	// Writing to a bytes.Buffer does not fail.
	_ = csv.NewWriter(&b).WriteAll(rows)
	// AWS ends the report without a newline.
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var reportColumns = strings.Split("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,"+
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"+
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,"+
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated", ",")

// date formats t as IAM does, in both the report and the API: UTC, whole
// seconds.
func date(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func userARN(account, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:user/%s", account, name)
}

// userID makes an ID in IAM's form (AIDA and 17 characters) that stays the
// same for the same user across SetUsers calls.
func userID(account, name string) string {
	sum := sha256.Sum256([]byte(account + "/" + name))
	return "AIDA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// compareNames orders user names as IAM lists them. IAM does not tell names
// apart by case.
func compareNames(a, b string) int {
	return cmp.Compare(strings.ToLower(a), strings.ToLower(b))
}

// sortedUsers copies users deeply, so that a caller's later changes do not
// reach the fake, in IAM's order. It panics on what IAM refuses to hold.
func sortedUsers(users []User) []User {
	out := make([]User, len(users))
	for i, u := range users {
		if len(u.AccessKeys) > maxAccessKeys {
			panic(fmt.Sprintf("fakeaws: user %q has %d access keys, IAM allows %d", u.Name, len(u.AccessKeys), maxAccessKeys))
		}
		out[i] = User{Name: u.Name, Tags: slices.Clone(u.Tags), AccessKeys: slices.Clone(u.AccessKeys)}
	}
	slices.SortFunc(out, func(a, b User) int { return compareNames(a.Name, b.Name) })
	for i := 1; i < len(out); i++ {
		if compareNames(out[i-1].Name, out[i].Name) == 0 {
			panic(fmt.Sprintf("fakeaws: users %q and %q have the same name to IAM", out[i-1].Name, out[i].Name))
		}
	}
	return out
}

// list is an IAM list. It is sent as an empty element when it has no
// members, as IAM does.
type list[T any] struct {
	Members []T `xml:"member"`
}

type userDetail struct {
	Path       string
	UserName   string
	UserId     string
	Arn        string
	CreateDate string
	// The fake's users have no inline or attached policies and no groups.
	UserPolicyList          struct{}
	GroupList               struct{}
	AttachedManagedPolicies struct{}
	Tags                    list[Tag]
}

func (a *Account) authorizationDetailsLocked(req *request) *apiError {
	var users []User
	filtered, wantUsers := false, false
	for k, values := range req.form {
		if !strings.HasPrefix(k, "Filter.member.") {
			continue
		}
		filtered = true
		for _, v := range values {
			if !slices.Contains(entityTypes, v) {
				return validationError(fmt.Sprintf("1 validation error detected: Value '[%s]' at 'filter' failed to satisfy constraint: "+
					"Member must satisfy constraint: [Member must satisfy enum value set: [%s]]", v, strings.Join(entityTypes, ", ")))
			}
			wantUsers = wantUsers || v == "User"
		}
	}
	if a.endless != nil {
		req.response = a.s.result(req, authorizationDetailsResult{IsTruncated: true, Marker: a.endless.nextMarker()})
		return nil
	}
	if !filtered || wantUsers {
		users = a.users
	}
	start, end, marker, err := page(req, len(users), a.pageSize)
	if err != nil {
		return err
	}
	details := make([]userDetail, 0, end-start)
	for _, u := range users[start:end] {
		details = append(details, userDetail{
			Path:       "/",
			UserName:   u.Name,
			UserId:     userID(a.id, u.Name),
			Arn:        userARN(a.id, u.Name),
			CreateDate: date(accountCreated),
			// a.users is replaced whole, never changed in place, so the
			// response may refer to it after the lock is released.
			Tags: list[Tag]{Members: u.Tags},
		})
	}
	req.response = a.s.result(req, authorizationDetailsResult{UserDetailList: list[userDetail]{Members: details}, IsTruncated: marker != "", Marker: marker})
	return nil
}

type authorizationDetailsResult struct {
	XMLName         xml.Name `xml:"GetAccountAuthorizationDetailsResult"`
	UserDetailList  list[userDetail]
	GroupDetailList struct{}
	RoleDetailList  struct{}
	Policies        struct{}
	IsTruncated     bool
	Marker          string `xml:",omitempty"`
}

type accessKeyMetadata struct {
	UserName    string
	AccessKeyId string
	Status      string
	CreateDate  string
}

func (a *Account) listAccessKeysLocked(req *request) *apiError {
	name := firstValue(req.form, "UserName")
	var keys []AccessKey
	switch {
	case name != "":
		i, found := slices.BinarySearchFunc(a.users, name, func(u User, name string) int { return compareNames(u.Name, name) })
		if !found {
			return &apiError{status: http.StatusNotFound, code: "NoSuchEntity", message: fmt.Sprintf("The user with name %s cannot be found.", name)}
		}
		name, keys = a.users[i].Name, a.users[i].AccessKeys
		if owner, ok := a.misdirected[strings.ToLower(name)]; ok {
			j, found := slices.BinarySearchFunc(a.users, owner, func(u User, name string) int { return compareNames(u.Name, name) })
			if !found {
				// A mistake of the test, answered with an error the SDK does
				// not retry.
				return validationError(fmt.Sprintf("fakeaws: the user %s that MisdirectAccessKeys names does not exist", owner))
			}
			name, keys = a.users[j].Name, a.users[j].AccessKeys
		}
	case strings.Contains(req.caller.arn, ":assumed-role/"):
		// Without a UserName IAM lists the caller's own keys, which a role
		// session does not have.
		return validationError("Must specify userName when calling with non-User credentials")
	default:
		// The caller is the default account's user, which has no keys.
	}
	start, end, marker, err := page(req, len(keys), 0)
	if err != nil {
		return err
	}
	metadata := make([]accessKeyMetadata, 0, end-start)
	for _, k := range keys[start:end] {
		status := "Inactive"
		if k.Active {
			status = "Active"
		}
		metadata = append(metadata, accessKeyMetadata{UserName: name, AccessKeyId: k.ID, Status: status, CreateDate: date(k.Created)})
	}
	req.response = a.s.result(req, struct {
		XMLName           xml.Name `xml:"ListAccessKeysResult"`
		AccessKeyMetadata list[accessKeyMetadata]
		IsTruncated       bool
		Marker            string `xml:",omitempty"`
	}{AccessKeyMetadata: list[accessKeyMetadata]{Members: metadata}, IsTruncated: marker != "", Marker: marker})
	return nil
}

func (a *Account) passwordPolicyLocked(req *request) *apiError {
	if a.passwordPolicy == nil {
		return &apiError{status: http.StatusNotFound, code: "NoSuchEntity",
			message: fmt.Sprintf("The Password Policy with domain name %s cannot be found.", a.id)}
	}
	policy := *a.passwordPolicy
	if !policy.ExpirePasswords {
		policy.MaxPasswordAge = 0
	}
	req.response = a.s.result(req, struct {
		XMLName        xml.Name `xml:"GetAccountPasswordPolicyResult"`
		PasswordPolicy PasswordPolicy
	}{PasswordPolicy: policy})
	return nil
}

// page picks the items [start, end) of one page of a list call of n items:
// at most MaxItems (1 to 1000, default 100), and at most limit when limit > 0,
// from where Marker says. A page that ends before the list does returns the
// marker of the next; the last page returns none, since the SDK paginators
// follow Marker alone. A marker holds the action and an offset, so that one
// from another call is refused.
func page(req *request, n, limit int) (start, end int, marker string, _ *apiError) {
	size := defaultMaxItems
	if v := firstValue(req.form, "MaxItems"); v != "" {
		var err error
		size, err = strconv.Atoi(v)
		switch {
		case err != nil:
			return 0, 0, "", validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a number", v))
		case size < 1:
			return 0, 0, "", validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", size))
		case size > maxMaxItems:
			return 0, 0, "", validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to %d", size, maxMaxItems))
		}
	}
	if limit > 0 {
		size = min(size, limit)
	}
	if m := firstValue(req.form, "Marker"); m != "" {
		decoded, err := base64.StdEncoding.DecodeString(m)
		offset, ok := strings.CutPrefix(string(decoded), req.action+"/")
		if err != nil || !ok {
			return 0, 0, "", validationError("Invalid Marker")
		}
		if start, err = strconv.Atoi(offset); err != nil || start < 1 {
			return 0, 0, "", validationError("Invalid Marker")
		}
		// Items removed since the marker was issued leave nothing to list.
		start = min(start, n)
	}
	end = min(start+size, n)
	if end < n {
		marker = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s/%d", req.action, end))
	}
	return start, end, marker, nil
}

func validationError(message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationError", message: message}
}
