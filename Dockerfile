# llmmon's container image, built by `make image` (hack/build-image.sh),
# which puts in the build context: the static binary, the host's CA
# certificates (for https:// upstreams) and passwd/group files with the
# non-root user. FROM scratch needs no base image, so it builds with no
# registry (DOCKER_BUILDKIT=0, the classic builder).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="llmmon" \
      org.opencontainers.image.description="Production monitoring for LLM inference servers: llmmon serve, the instrumented OpenAI-compatible server and gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY llmmon /usr/local/bin/llmmon
# Numeric, so Kubernetes' runAsNonRoot can check it (stack/kubernetes.ImageUID).
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/llmmon"]
CMD ["serve"]
