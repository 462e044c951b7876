# The okta-hris operator image: `okta-hris run`, with the arguments the Helm chart passes.
#
#   docker build -t okta-hris-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     --build-arg SOURCE=https://github.com/<owner>/okta-hris-operator .
#
# Both stages start from one base image, pinned by tag. For a reproducible build pin it by
# digest too (`docker buildx imagetools inspect python:3.11-slim` prints it):
#   --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>
# Every Python package comes from requirements.lock / requirements-build.lock, checked against
# their sha256 hashes; README "The container image" says how to regenerate them.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# The locks first: the dependency layers are rebuilt only when a lock changes, not on every
# change to the code. Wheels only (--only-binary): the slim image has no compiler, and nothing
# runs a package's build script. The venv is made without pip and filled by the base image's
# pip (`--python`), so it never holds pip, setuptools or wheel.
COPY requirements-build.lock requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements-build.lock \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install \
       --require-hashes --no-deps --only-binary=:all: -r requirements.lock

COPY pyproject.toml README.md ./
COPY operator ./operator
# The project's wheel, built with the locked setuptools (no build isolation: it would fetch
# unpinned build tools), then installed on its own: every dependency is already there.
RUN pip wheel --no-deps --no-build-isolation --check-build-dependencies --wheel-dir /dist . \
    && pip --python /opt/venv/bin/python install --no-deps --no-index /dist/*.whl


FROM ${PYTHON_IMAGE}

# Nothing installs packages at run time: the base image's pip, setuptools and wheel go (a scanner
# would report them, and pip could change the image's code), with ensurepip's bundled copies.
# The operator runs as 10001, which owns only /data (the SQLite directory's volume).
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && rm -rf /usr/local/bin/pip /usr/local/lib/python3.11/ensurepip \
    && groupadd --system --gid 10001 okta-hris \
    && useradd --system --uid 10001 --gid okta-hris --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin okta-hris \
    && install -d -o okta-hris -g okta-hris /data

COPY --from=builder /opt/venv /opt/venv

# A read-only root file system is enough: the bytecode was compiled at install time, HOME (the
# demo's default directory, the kubeconfig lookup) is /tmp, and the directory lives in /data.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    HOME=/tmp \
    HRIS_DATA_DIR=/data

USER 10001:10001
WORKDIR /data

# 8080: the Kopf liveness endpoint (/healthz), 9090: Prometheus metrics (/metrics),
# 8081: the Okta event hooks receiver (HRIS_HOOKS_ADDRESS, /hooks/okta/<namespace>/<name>).
EXPOSE 8080 8081 9090
# What Kubernetes sends: Kopf then stops watching and runs the operator's cleanup handler.
STOPSIGNAL SIGTERM
ENTRYPOINT ["okta-hris"]
# Without the chart (`docker run`): every namespace, one replica, the SQLite directory in /data.
# The chart replaces these arguments with its own (namespaces, peering, ports, log format).
CMD ["run", "--all-namespaces", "--standalone"]

# Last, so that a new revision or date rebuilds no layer.
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="okta-hris-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps an employee directory in sync with an Okta org" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
