# stream-align service image. Build from the repository root:  docker build -t stream-align .
# Datasets and models are mounted at run time (never baked in, never downloaded at run time).
#
# Reproducible: the packages are exactly requirements.lock (pinned, hash-checked, with the OTLP
# trace exporter), and the base image is pinned by digest (a tag is a moving target). The digest
# is a python:3.11-slim index digest in public use; no registry is reachable where this file was
# written, so refresh it where one is (security updates land as new digests):
#   docker buildx imagetools inspect python:3.11-slim      (the "Digest:" line)
# and build with --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>, or write it below.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# Build stage: a virtual environment in /opt/stream-align; only it is copied to the final image
# (no wheels, no pip cache, no build context in any layer of it).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/stream-align
COPY requirements.lock /tmp/requirements.lock
RUN /opt/stream-align/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY stream_align ./stream_align
RUN /opt/stream-align/bin/pip install --no-deps . \
 && /opt/stream-align/bin/pip check

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 --user-group streamalign
COPY --from=build /opt/stream-align /opt/stream-align
ENV PATH=/opt/stream-align/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001
WORKDIR /home/streamalign
EXPOSE 8080
ENTRYPOINT ["stream-align"]
CMD ["--help"]
