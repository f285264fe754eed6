# stream-align service image. Build from the repository root:  docker build -t stream-align .
# Datasets and models are mounted at run time (never baked in, never downloaded at run time).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY stream_align ./stream_align
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 streamalign
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /home/streamalign
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["stream-align"]
CMD ["--help"]
