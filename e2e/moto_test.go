package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

func motoIAM(endpoint string) *iam.Client {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, ""),
	})
}

// The exporter against moto_server, an AWS emulator we did not write: the
// users, passwords and keys created through the AWS API are exactly those
// on /metrics.
func TestMotoServer(t *testing.T) {
	t.Parallel()
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := motoIAM(endpoint)

	type keySlot struct{ user, key string }
	wantUsers := []string{"alice", "bob", "carol+ci@example.com"}
	// An empty slot has no series: absent, not 0.
	const absent = -1
	wantActive := map[keySlot]float64{}
	for _, u := range wantUsers {
		if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}); err != nil {
			t.Fatalf("create user %s: %v", u, err)
		}
		wantActive[keySlot{u, "1"}] = absent
		wantActive[keySlot{u, "2"}] = absent
	}
	if _, err := client.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Correct-horse-9!")}); err != nil {
		t.Fatalf("create login profile: %v", err)
	}
	for _, u := range []string{"bob", "bob", "carol+ci@example.com"} {
		if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)}); err != nil {
			t.Fatalf("create access key for %s: %v", u, err)
		}
	}
	wantActive[keySlot{"bob", "1"}] = 1
	wantActive[keySlot{"bob", "2"}] = 1
	wantActive[keySlot{"carol+ci@example.com", "1"}] = 1

	e := startExporter(t, testenv.AWSEnv(endpoint, t.TempDir()), "--report.refresh-interval=1h")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	text, mfs := scrape(t, e.URL)

	var gotUsers []string
	for _, m := range mfs["aws_iam_user_info"].GetMetric() {
		labels := labelMap(m.GetLabel())
		if labels["account_id"] != "123456789012" {
			t.Errorf("user %s in account %q, want moto's default 123456789012", labels["user"], labels["account_id"])
		}
		if want := "arn:aws:iam::123456789012:user/" + labels["user"]; labels["arn"] != want {
			t.Errorf("arn = %q, want %q", labels["arn"], want)
		}
		gotUsers = append(gotUsers, labels["user"])
	}
	sort.Strings(gotUsers)
	if fmt.Sprint(gotUsers) != fmt.Sprint(wantUsers) {
		t.Errorf("users on /metrics = %v, want %v", gotUsers, wantUsers)
	}
	for slot, want := range wantActive {
		got, ok := sample(mfs, "aws_iam_access_key_active", map[string]string{"user": slot.user, "key": slot.key})
		if !ok {
			got = absent
		}
		if got != want {
			t.Errorf("aws_iam_access_key_active{user=%q,key=%q} = %v, want %v (-1: no series)", slot.user, slot.key, got, want)
		}
	}
	for user, want := range map[string]float64{"alice": 1, "bob": absent, "carol+ci@example.com": absent} {
		got, ok := sample(mfs, "aws_iam_user_password_enabled", map[string]string{"user": user})
		if !ok {
			got = absent
		}
		if got != want {
			t.Errorf("password_enabled{user=%q} = %v, want %v (-1: no series)", user, got, want)
		}
	}
	// moto writes no_information for a password never used: no series.
	if _, ok := sample(mfs, "aws_iam_user_password_last_used_timestamp_seconds", map[string]string{"user": "alice"}); ok {
		t.Errorf("password_last_used exported for a password never used")
	}
	for _, op := range []string{"GenerateCredentialReport", "GetCredentialReport"} {
		if v, _ := sample(mfs, "iam_credential_exporter_aws_requests_total", map[string]string{"operation": op}); v < 1 {
			t.Errorf("aws_requests_total{operation=%q} = %v, want >= 1", op, v)
		}
	}
	t.Run("promtool", func(t *testing.T) { promtoolCheckMetrics(t, text) })
}
