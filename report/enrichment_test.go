package report

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTagKeys(t *testing.T) {
	tests := []struct {
		values  []string
		want    TagKeys
		wantErr string
	}{
		{values: nil, want: nil},
		{values: []string{"owner,team", "cost-center"}, want: TagKeys{"owner", "team", "cost-center"}},
		{values: []string{" owner , ", "", "aws:cloudformation:stack-name"}, want: TagKeys{"owner", "aws:cloudformation:stack-name"}},
		// IAM user tag keys are case-insensitive: the first spelling wins.
		{values: []string{"Owner", "owner,OWNER"}, want: TagKeys{"Owner"}},
		{values: []string{"Équipe responsable"}, want: TagKeys{"Équipe responsable"}},
		{values: []string{"team*"}, wantErr: `"team*" is not a tag key`},
		{values: []string{strings.Repeat("k", 129)}, wantErr: "is not a tag key"},
	}
	for _, tt := range tests {
		got, err := ParseTagKeys(tt.values)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTagKeys(%q) error = %v, want it to contain %q", tt.values, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("ParseTagKeys(%q) error = %v", tt.values, err)
		case !slices.Equal(got, tt.want):
			t.Errorf("ParseTagKeys(%q) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

func TestTagKeysSelect(t *testing.T) {
	keys := TagKeys{"owner", "team", "cost-center"}
	tags := []Tag{
		{Key: "Name", Value: "ci"},
		{Key: "COST-CENTER", Value: "42"},
		{Key: "Owner", Value: "upper"},
		{Key: "owner", Value: "exact"}, // Organizations keys are case-sensitive: the exact spelling wins
		{Key: "team", Value: ""},       // an empty value is a value
	}
	got := keys.Select(tags)
	want := []Tag{{Key: "owner", Value: "exact"}, {Key: "team", Value: ""}, {Key: "cost-center", Value: "42"}}
	if !slices.Equal(got, want) {
		t.Errorf("Select = %q, want %q", got, want)
	}
	if got := keys.Select([]Tag{{Key: "Name", Value: "x"}}); got != nil {
		t.Errorf("Select without allowed tags = %q, want nil", got)
	}
}
