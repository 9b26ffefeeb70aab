# One image for web, worker, beat and the sandbox (docker-compose.yml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dashboard dashboard
COPY ops ops
COPY sandbox sandbox
RUN pip install --no-cache-dir '.[sandbox]'
COPY . .
# collectstatic writes hashed, gzip- and brotli-compressed copies that WhiteNoise serves with
# far-future caching. It signs nothing; a throwaway key only lets the settings load at build time.
RUN SECRET_KEY=build-only-not-used-at-runtime python manage.py collectstatic --noinput
RUN useradd --create-home app && chown -R app /app
USER app
EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi", "-b", "0.0.0.0:8000", "-w", "3", "--timeout", "60"]
