# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY index ./index
RUN python -m venv /opt/teambot \
    && /opt/teambot/bin/pip install -c constraints.txt .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="teambot" \
      org.opencontainers.image.description="A Discord bot that gives a team generative AI where it already talks"
RUN groupadd --gid 10001 teambot \
    && useradd --create-home --uid 10001 --gid 10001 teambot \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/teambot /opt/teambot
ENV PATH="/opt/teambot/bin:$PATH" \
    DATA_DIR=/data \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/teambot
VOLUME ["/data"]
# Secrets come from `docker run --env-file .env`, never from the image.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
