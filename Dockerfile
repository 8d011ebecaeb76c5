# Build a static binary, then ship it alone on distroless as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/iam_credential_exporter ./cmd/iam_credential_exporter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/iam_credential_exporter /bin/iam_credential_exporter
COPY report/testdata/example.csv /usr/share/iam_credential_exporter/example.csv
USER nonroot:nonroot
EXPOSE 9860
ENTRYPOINT ["/bin/iam_credential_exporter"]
