# syntax=docker/dockerfile:1
# Static musl build of the operator on a distroless, non-root base.
# Keep the build steps identical to `make build-static` (see Makefile).
ARG RUST_VERSION=1.95
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETARCH
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
COPY . .
RUN case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-musl ;; \
      arm64) target=aarch64-unknown-linux-musl ;; \
      *) echo "unsupported arch $TARGETARCH" >&2; exit 1 ;; \
    esac && \
    rustup target add "$target" && \
    cargo build --release --locked --target "$target" --bin locust-k8s-operator && \
    cp "target/$target/release/locust-k8s-operator" /locust-k8s-operator

FROM gcr.io/distroless/static:nonroot
COPY --from=build /locust-k8s-operator /locust-k8s-operator
USER nonroot:nonroot
ENTRYPOINT ["/locust-k8s-operator"]
CMD ["run"]
