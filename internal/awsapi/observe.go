package awsapi

import (
	"context"
	"errors"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// ObserveRequests returns an SDK API option that calls observe after every
// HTTP attempt of an operation, retries included. code is "" on success, the
// AWS error code when AWS answered an error, or else a short class:
// "timeout", "canceled", "response_too_large", "invalid_response" (a body
// that is not the protocol's XML), "network" or "other".
//
// The middleware goes last in the Finalize step, after the retry and signing
// middlewares, so it sees each attempt that was sent, with the error its
// response deserialized to.
func ObserveRequests(observe func(operation, code string)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(observeMiddleware{observe: observe}, middleware.After)
	}
}

type observeMiddleware struct {
	observe func(operation, code string)
}

func (observeMiddleware) ID() string { return "IAMCredentialExporterObserveRequests" }

func (m observeMiddleware) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleFinalize(ctx, in)
	m.observe(middleware.GetOperationName(ctx), requestErrorCode(err))
	return out, md, err
}

func requestErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if code := errorCode(err); code != "" {
		return code
	}
	var (
		timeout interface{ Timeout() bool }
		deser   *smithy.DeserializationError
		send    *smithyhttp.RequestSendError
	)
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		return "response_too_large"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &deser):
		return "invalid_response"
	case errors.As(err, &send):
		return "network"
	}
	return "other"
}
