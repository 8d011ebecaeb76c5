package report

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

// sameFactsFields are the fields of Report that SameFacts compares, and
// Lookups, which it leaves out on purpose. A field added to Report fails
// TestSameFactsKnowsEveryField until SameFacts compares it (or says why not).
var sameFactsFields = []string{"AccountID", "Partition", "AccountAlias", "GeneratedAt", "Users", "BadCells", "Duplicates",
	"UserTags", "Exemptions", "InvalidExemptions", "AccessKeyIDs", "PasswordPolicy", "Lookups"}

func TestSameFactsKnowsEveryField(t *testing.T) {
	typ := reflect.TypeFor[Report]()
	var fields []string
	for f := range typ.Fields() {
		fields = append(fields, f.Name)
	}
	if !reflect.DeepEqual(fields, sameFactsFields) {
		t.Errorf("Report has fields\n%q\nSameFacts knows\n%q\nupdate SameFacts and sameFactsFields", fields, sameFactsFields)
	}
}

func TestSameFacts(t *testing.T) {
	generated := time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC)
	end := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
	full := func() *Report {
		return &Report{
			AccountID: "123456789012", Partition: "aws", AccountAlias: "prod", GeneratedAt: generated,
			Users: []User{
				{Name: RootUserName, ARN: "arn:aws:iam::123456789012:root", Root: true},
				{Name: "alice", ARN: "arn:aws:iam::123456789012:user/alice", MFAActive: Flag{Value: true, Status: Present}},
			},
			BadCells: 1, Duplicates: 2,
			UserTags:          map[string][]Tag{"alice": {{Key: "owner", Value: "team-a"}}},
			Exemptions:        map[string][]Exemption{"alice": {{Policy: "key-rotation", End: end, Reason: "SEC-1"}}},
			InvalidExemptions: []InvalidExemption{{User: "alice", Key: "iam-credential-exemption:x", Problem: "unknown policy"}},
			AccessKeyIDs:      map[string][2]string{"alice": {"AKIA1", ""}},
			PasswordPolicy:    &PasswordPolicy{Exists: true, MinimumLength: 14},
			Lookups:           []LookupStatus{{Lookup: LookupUserTags, OK: true, LastSuccess: generated}},
		}
	}
	tests := []struct {
		name   string
		change func(*Report)
		same   bool
	}{
		{name: "equal copy", change: func(*Report) {}, same: true},
		{name: "lookups differ", change: func(r *Report) {
			r.Lookups = []LookupStatus{{Lookup: LookupUserTags, OK: false, LastSuccess: generated.Add(time.Hour)}}
		}, same: true},
		// The same instant read in another location, or with a monotonic
		// reading, is the same generation time.
		{name: "generated time in another location", change: func(r *Report) { r.GeneratedAt = generated.In(time.FixedZone("CET", 3600)) }, same: true},
		{name: "exemption end in another location", change: func(r *Report) {
			r.Exemptions = map[string][]Exemption{"alice": {{Policy: "key-rotation", End: end.Local(), Reason: "SEC-1"}}}
		}, same: true},
		{name: "password policy copied", change: func(r *Report) { p := *r.PasswordPolicy; r.PasswordPolicy = &p }, same: true},
		{name: "newer report", change: func(r *Report) { r.GeneratedAt = generated.Add(4 * time.Hour) }},
		{name: "alias", change: func(r *Report) { r.AccountAlias = "" }},
		{name: "account", change: func(r *Report) { r.AccountID = "210987654321" }},
		{name: "partition", change: func(r *Report) { r.Partition = "aws-cn" }},
		{name: "bad cells", change: func(r *Report) { r.BadCells = 0 }},
		{name: "duplicates", change: func(r *Report) { r.Duplicates = 0 }},
		{name: "user cell", change: func(r *Report) { r.Users[1].MFAActive = Flag{Value: false, Status: Present} }},
		{name: "user removed", change: func(r *Report) { r.Users = r.Users[:1] }},
		{name: "user tag value", change: func(r *Report) { r.UserTags["alice"] = []Tag{{Key: "owner", Value: "team-b"}} }},
		{name: "user tags not looked up", change: func(r *Report) { r.UserTags = nil }},
		{name: "user tags looked up, none", change: func(r *Report) { r.UserTags = map[string][]Tag{} }},
		{name: "exemption reason", change: func(r *Report) {
			r.Exemptions = map[string][]Exemption{"alice": {{Policy: "key-rotation", End: end, Reason: "SEC-2"}}}
		}},
		{name: "exemption end", change: func(r *Report) {
			r.Exemptions = map[string][]Exemption{"alice": {{Policy: "key-rotation", End: end.AddDate(0, 0, 1), Reason: "SEC-1"}}}
		}},
		{name: "exemptions not read", change: func(r *Report) { r.Exemptions = nil }},
		{name: "invalid exemption gone", change: func(r *Report) { r.InvalidExemptions = nil }},
		{name: "key ID", change: func(r *Report) { r.AccessKeyIDs["alice"] = [2]string{"AKIA1", "AKIA2"} }},
		{name: "key IDs not looked up", change: func(r *Report) { r.AccessKeyIDs = nil }},
		{name: "password policy field", change: func(r *Report) { r.PasswordPolicy.MinimumLength = 8 }},
		{name: "password policy not read", change: func(r *Report) { r.PasswordPolicy = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := full(), full()
			tt.change(b)
			if got := a.SameFacts(b); got != tt.same {
				t.Errorf("a.SameFacts(b) = %v, want %v", got, tt.same)
			}
			if got := b.SameFacts(a); got != tt.same {
				t.Errorf("b.SameFacts(a) = %v, want %v", got, tt.same)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		var none *Report
		if !none.SameFacts(nil) || none.SameFacts(full()) || full().SameFacts(nil) {
			t.Errorf("nil reports: nil.SameFacts(nil) = %v, nil.SameFacts(r) = %v, r.SameFacts(nil) = %v",
				none.SameFacts(nil), none.SameFacts(full()), full().SameFacts(nil))
		}
	})
}

// BenchmarkSameFacts compares two equal reports of the largest size an
// account has (5000 users and root), as a refresher does once per refresh
// that got the report it holds.
func BenchmarkSameFacts(b *testing.B) {
	data := reportgen.Generate(reportgen.Options{Users: 5000, Seed: 1})
	parse := func() *Report {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		rep.UserTags = map[string][]Tag{}
		rep.AccessKeyIDs = map[string][2]string{}
		for _, u := range rep.Users {
			rep.UserTags[u.Name] = []Tag{{Key: "owner", Value: "team-" + u.Name}}
			rep.AccessKeyIDs[u.Name] = [2]string{"AKIA" + u.Name, ""}
		}
		return rep
	}
	x, y := parse(), parse()
	b.ReportAllocs()
	for b.Loop() {
		if !x.SameFacts(y) {
			b.Fatal("equal reports differ")
		}
	}
}
