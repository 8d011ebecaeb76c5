package awsapi

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// SessionName is the role session name used when assuming --aws.role-arn; it
// shows in the target account's CloudTrail.
const SessionName = "iam_credential_exporter"

// LoadConfig builds the base AWS configuration: the SDK's default chain for
// credentials and region (environment, shared config and SSO, web identity,
// ECS, EC2 instance metadata; AWS_ENDPOINT_URL_* are honoured) and a limit
// on response bodies (see WrapHTTPClient; <= 0 is none). region, when not
// "", wins over the chain's; when neither sets one, the region of
// partition's global endpoints is used ("" is aws). IAM is global, so the
// region only picks the partition and the STS endpoint. The SDK's own log
// lines go to logger (see SDKLogger).
func LoadConfig(ctx context.Context, region string, partition report.Partition, maxResponseBytes int64, logger *slog.Logger) (aws.Config, error) {
	// The logger is a load option, not set afterwards, so that what the SDK
	// says while reading the shared config files (at debug level: ignored
	// profiles and settings) goes through it too.
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(SDKLogger(logger)),
		config.WithLogConfigurationWarnings(true),
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("read AWS shared config and environment: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = partition.Region
		if cfg.Region == "" {
			cfg.Region = report.Partitions[len(report.Partitions)-1].Region
		}
	}
	next := cfg.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	// Wrapping the loaded client keeps what the chain configured on it, such
	// as AWS_CA_BUNDLE.
	cfg.HTTPClient = WrapHTTPClient(next, maxResponseBytes)
	return cfg, nil
}

// AssumeRole returns a copy of base whose credentials are those of roleARN,
// assumed with base's credentials (and externalID when not ""). They are
// cached and renewed before they expire, so each account costs one
// sts:AssumeRole an hour, not one per refresh.
func AssumeRole(base aws.Config, roleARN, externalID string) aws.Config {
	cfg := base.Copy()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

// CallerAccount returns the account of cfg's credentials. It calls
// sts:GetCallerIdentity, which needs no permission.
func CallerAccount(ctx context.Context, cfg aws.Config) (string, error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("get caller identity: %w", err)
	}
	return aws.ToString(out.Account), nil
}

// SDKLogger passes the AWS SDK's own log lines to logger, so that
// --log.level and --log.format apply to them; the SDK's default writes plain
// text to stderr. The SDK logs at two levels: warnings (such as a response
// Date header it cannot parse) and debug notes (such as an ignored profile
// of the shared config file). Request and response bodies are logged only
// with an aws.ClientLogMode, which the exporter never sets.
func SDKLogger(logger *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		ctx := context.Background()
		if !logger.Enabled(ctx, level) {
			return
		}
		logger.Log(ctx, level, "AWS SDK message", "sdk_message", fmt.Sprintf(format, v...))
	})
}
