# The platform's services in one image; docker-compose.yml picks the command per container.
FROM python:3.11-slim
WORKDIR /app
# Dependencies first (pinned), so an edit of the source does not reinstall them.
COPY pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir -c requirements.lock $(python -c "import tomllib; \
    print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))")
COPY contracts contracts
COPY services services
COPY infra infra
COPY standins standins
COPY tools tools
RUN pip install --no-cache-dir --no-deps . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin platform \
 && mkdir -p /data/evidence /data/mail && chown -R platform /data
USER 10001
