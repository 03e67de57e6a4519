# One image for every service and the gateway; the command chooses which one runs.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# runtime only: tests, lint and benchmark tools are in requirements-dev.txt
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY . .
RUN useradd --system --home /app portal && mkdir -p /app/var && chown portal /app/var
USER portal

# e.g. `python -m scripts.run_service accounts`
ENTRYPOINT ["python", "-m"]
CMD ["scripts.run_service", "gateway"]
