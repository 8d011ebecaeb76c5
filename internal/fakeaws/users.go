package fakeaws

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base32"
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

// accountCreated is when every account of the fake, and every user in it,
// was created.
var accountCreated = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// maxAccessKeys is IAM's quota of access keys per user, and the number of
// key slots in the report.
const maxAccessKeys = 2

// SetUsers replaces the account's IAM users, which
// GetAccountAuthorizationDetails and ListAccessKeys answer from, all on one
// page, as moto does. They are independent of the report set with
// SetCSV/SetReport, as in AWS where the report lags behind by up to 4 hours;
// ReportCSV builds a matching report. It panics on users IAM could not
// hold: more than two access keys, or two names that differ only in case.
func (a *Account) SetUsers(users []User) {
	sorted := sortedUsers(users)
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.users = sorted
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

// WithKeyLastUsed returns a copy of report, a credential report such as
// ReportCSV's, in which user's key in slot (0 for access_key_1, as in
// User.AccessKeys) was last used at at, in region, by service. It panics
// on a report that is not CSV.
func WithKeyLastUsed(report []byte, user string, slot int, at time.Time, region, service string) []byte {
	rows, err := csv.NewReader(bytes.NewReader(report)).ReadAll()
	if err != nil {
		panic(fmt.Sprintf("fakeaws: not a credential report: %v", err))
	}
	col := slices.Index(rows[0], fmt.Sprintf("access_key_%d_last_used_date", slot+1))
	for _, r := range rows[1:] {
		if r[0] == user {
			r[col], r[col+1], r[col+2] = date(at), region, service
		}
	}
	var b bytes.Buffer
	_ = csv.NewWriter(&b).WriteAll(rows)
	return b.Bytes()
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

// authorizationDetailsLocked lists every user, whatever the Filter: the
// exporter asks for users only.
func (a *Account) authorizationDetailsLocked(req *request) *apiError {
	details := make([]userDetail, 0, len(a.users))
	for _, u := range a.users {
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
	req.response = a.s.result(req, authorizationDetailsResult{UserDetailList: list[userDetail]{Members: details}})
	return nil
}

type authorizationDetailsResult struct {
	XMLName         xml.Name `xml:"GetAccountAuthorizationDetailsResult"`
	UserDetailList  list[userDetail]
	GroupDetailList struct{}
	RoleDetailList  struct{}
	Policies        struct{}
	IsTruncated     bool
}

type accessKeyMetadata struct {
	UserName    string
	AccessKeyId string
	Status      string
	CreateDate  string
}

// listAccessKeysLocked lists the keys of the user named, on one page.
func (a *Account) listAccessKeysLocked(req *request) *apiError {
	name := firstValue(req.form, "UserName")
	i, found := slices.BinarySearchFunc(a.users, name, func(u User, name string) int { return compareNames(u.Name, name) })
	if !found {
		return &apiError{status: http.StatusNotFound, code: "NoSuchEntity", message: fmt.Sprintf("The user with name %s cannot be found.", name)}
	}
	u := a.users[i]
	metadata := make([]accessKeyMetadata, 0, len(u.AccessKeys))
	for _, k := range u.AccessKeys {
		status := "Inactive"
		if k.Active {
			status = "Active"
		}
		metadata = append(metadata, accessKeyMetadata{UserName: u.Name, AccessKeyId: k.ID, Status: status, CreateDate: date(k.Created)})
	}
	req.response = a.s.result(req, struct {
		XMLName           xml.Name `xml:"ListAccessKeysResult"`
		AccessKeyMetadata list[accessKeyMetadata]
		IsTruncated       bool
	}{AccessKeyMetadata: list[accessKeyMetadata]{Members: metadata}})
	return nil
}
