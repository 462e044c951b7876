# The okta-hris operator image: `okta-hris run` (the Helm chart in charts/ passes the arguments).
#
#   docker build -t okta-hris-operator:0.1.0 .
#   kind load docker-image okta-hris-operator:0.1.0
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HRIS_DATA_DIR=/data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Every dependency has a wheel for this image (psycopg's included): no compiler needed.
RUN pip install . \
    && rm -rf /src \
    && groupadd --system --gid 10001 okta-hris \
    && useradd --system --uid 10001 --gid okta-hris --home-dir /home/okta-hris --create-home \
       --shell /usr/sbin/nologin okta-hris \
    && install -d -o okta-hris -g okta-hris /data

USER 10001:10001
WORKDIR /home/okta-hris

# 8080: liveness (/healthz), 9090: Prometheus metrics (/metrics).
EXPOSE 8080 9090

ENTRYPOINT ["okta-hris"]
CMD ["run", "--all-namespaces", "--standalone"]
