# seqlens: the dashboard by default; the same image runs the `seqlens` CLI and the Airflow DAG's tasks.
#   docker build -t seqlens .
#   docker run --rm -v "$PWD/seqlens-demo:/data/seqlens" seqlens seqlens demo --output /data/seqlens
#   docker run --rm -p 8501:8501 -v "$PWD/seqlens-demo:/data/seqlens" seqlens
#   docker run --rm seqlens airflow dags test seqlens_batch_training 2024-03-01
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# 1) Dependencies, from the project's own metadata pinned by constraints.txt (a cached layer:
#    it changes only when pyproject.toml or constraints.txt change).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install --no-cache-dir -r /tmp/requirements.txt -c constraints.txt \
    && rm /tmp/requirements.txt

# 2) The project itself (no dependency resolution left to do).
COPY README.md ./
COPY seqlens/ seqlens/
COPY pipeline/ pipeline/
COPY models/ models/
COPY dashboard/ dashboard/
COPY airflow_dags/ airflow_dags/
RUN pip install --no-cache-dir --no-deps . \
    && pip check

# 3) A non-root user owns the artifacts folder and Airflow's home.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin seqlens \
    && mkdir -p /data/seqlens \
    && chown seqlens:seqlens /data/seqlens
USER 10001:10001

ENV SEQLENS_ARTIFACTS=/data/seqlens \
    AIRFLOW_HOME=/home/seqlens/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/app/airflow_dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

VOLUME ["/data/seqlens"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

CMD ["seqlens", "dashboard", "--artifacts", "/data/seqlens", "--address", "0.0.0.0", "--port", "8501", "--headless"]
