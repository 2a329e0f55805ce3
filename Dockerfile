# syntax=docker/dockerfile:1
# The operator's image: a static musl binary (ring, no OpenSSL) on distroless, non-root.
#   docker buildx build --platform linux/amd64,linux/arm64 -t locust-k8s-operator .
# The build stage runs on the builder's own platform and cross-builds for TARGETARCH with
# the same script as `make build-static` / `make build-static-arm64`, so the two cannot
# drift; the script also checks the result is static (scripts/image/check-static.sh).
ARG RUST_VERSION=1.95

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
# Set by BuildKit from --platform: amd64 or arm64.
ARG TARGETARCH
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/root/.cache/locust-k8s-operator \
    --mount=type=cache,target=/src/target,sharing=locked \
    cp "$(scripts/image/build-static.sh "${TARGETARCH}")" /locust-k8s-operator \
    && scripts/image/check-static.sh /locust-k8s-operator "${TARGETARCH}"

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="locust-k8s-operator" \
      org.opencontainers.image.description="Kubernetes operator that runs distributed Locust load tests" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /locust-k8s-operator /locust-k8s-operator
# distroless "nonroot" (65532); numeric so the kubelet can enforce runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/locust-k8s-operator"]
CMD ["run"]
