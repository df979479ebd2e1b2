FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY contracts contracts
COPY services services
COPY infra infra
COPY tools tools
RUN pip install --no-cache-dir -c requirements.lock .
