# The release image: the static binary that the release build (promu, `make
# crossbuild`) made for the target's architecture, on an empty base with
# only what it needs beside it, as Prometheus's own images copy their
# release binaries. `make image` builds it, after `make image-rootfs` has
# put the CA bundle and the passwd and group files into .build/image-rootfs/
# (docs/image.md). No compiler stage: with BuildKit, podman or buildah,
# TARGETARCH picks the binary, so
#   docker buildx build --platform linux/amd64,linux/arm64 .
# needs no emulation once .build/linux-amd64 and .build/linux-arm64 exist.
# e2e/image_test.go builds this image with buildah, runs it and inspects it.
FROM scratch
ARG TARGETARCH
ARG VERSION
ARG REVISION
ARG CA_CERTIFICATES
LABEL org.opencontainers.image.title="iam_credential_exporter" \
      org.opencontainers.image.description="Prometheus exporter of the AWS IAM credential report: access key age and use, MFA, passwords and root credentials per IAM user" \
      org.opencontainers.image.source="https://github.com/iam-credential-exporter/iam_credential_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      io.github.iam-credential-exporter.ca-certificates="${CA_CERTIFICATES}"
# /etc/ssl/certs/ca-certificates.crt, where Go looks first on Linux, for
# TLS to AWS; /etc/passwd and /etc/group with 65532 (nonroot), as
# distroless/static has them.
COPY .build/image-rootfs/ /
COPY .build/linux-${TARGETARCH}/iam_credential_exporter /bin/iam_credential_exporter
COPY report/testdata/example.csv /usr/share/iam_credential_exporter/example.csv
# Numeric, as Kubernetes' runAsNonRoot can only verify a numeric user.
USER 65532:65532
EXPOSE 9860
ENTRYPOINT ["/bin/iam_credential_exporter"]
