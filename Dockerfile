# Build a static binary, then ship it alone on distroless as a numeric
# non-root user. `make image` passes VERSION and REVISION as `make build`
# stamps them; e2e/image_test.go checks this file and runs its go build for
# linux/arm64.

# The build stage runs on the builder's own platform and cross-compiles for
# the target's (TARGETOS and TARGETARCH, set by BuildKit, buildx, podman and
# buildah), so `docker buildx build --platform linux/amd64,linux/arm64`
# needs no emulation. Where they are unset, go builds for the host.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION}" \
      -o /out/iam_credential_exporter ./cmd/iam_credential_exporter

# distroless/static holds the CA certificates (/etc/ssl/certs) that TLS to
# AWS needs, time zone data and /etc/passwd, and nothing else: no shell, no
# package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="iam_credential_exporter" \
      org.opencontainers.image.description="Prometheus exporter of the AWS IAM credential report: access key age and use, MFA, passwords and root credentials per IAM user" \
      org.opencontainers.image.source="https://github.com/iam-credential-exporter/iam_credential_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/iam_credential_exporter /bin/iam_credential_exporter
COPY report/testdata/example.csv /usr/share/iam_credential_exporter/example.csv
# Numeric, as Kubernetes' runAsNonRoot can only verify a numeric user:
# 65532 is distroless's nonroot user and group.
USER 65532:65532
EXPOSE 9860
ENTRYPOINT ["/bin/iam_credential_exporter"]
