# syntax=docker/dockerfile:1
#
# sioloop: a static binary on distroless "static" (CA certificates, tzdata,
# /etc/passwd with the nonroot user 65532; no shell, no package manager).
#
#   docker build --build-arg VERSION=1.0.0 -t sioloop:1.0.0 .
#   docker run --rm -p 3000:3000 -p 3001:3001 sioloop:1.0.0
#
# tools/shipcheck builds the binary with the exact "go build" line below (its
# flags are read from this file) and runs it: keep that line on one RUN.

# The build runs on the builder's own platform and cross-compiles for the
# target one (docker buildx build --platform linux/amd64,linux/arm64 .).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src

# Modules in their own layer: rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: a static binary that needs no libc. -trimpath: no local
# paths in it. -s -w: no symbol table and no DWARF (about a third smaller).
# -X: the version GET / reports.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X sioloop/api.Version=${VERSION}" -o /out/sioloop .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sioloop /sioloop
# Numeric, so that Kubernetes can check runAsNonRoot against the image.
USER 65532:65532
# PORT (Socket.IO, and the admin routes unless ADMIN_ON_MAIN_PORT=false)
# and ADMIN_ADDR (admin routes: /, /health, /metrics, /SendWebsocketEvent).
EXPOSE 3000 3001
# No shell in the image: the binary asks its own GET /health (2 s bound).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/sioloop", "healthcheck"]
ENTRYPOINT ["/sioloop"]
