# syntax=docker/dockerfile:1
# The control plane image: `make image` (IMAGE, VERSION). Two stages: the SDK builds and publishes, the runtime
# stage is the chiselled ASP.NET Core image (no shell, no package manager) running as a non-root user, and writes
# nothing outside /tmp, so it runs on a read-only root filesystem (deployment.yaml mounts an emptyDir on /tmp).

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
# The build fetches the Envoy API protos from the pinned npm package and checks its integrity hash
# (protos/fetch-envoy-api.mjs, run by src/Envoy.Api.Protos): it needs node and npm.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORKDIR /src
COPY .editorconfig Directory.Build.props Directory.Packages.props stylecop.json ./
COPY protos/ protos/
COPY src/ src/
# What --version prints; `make image` passes `git describe` (the build context has no .git).
ARG VERSION=0.1.0-dev
RUN dotnet publish src/XdsControlPlane.Server/XdsControlPlane.Server.csproj -c Release \
        -p:InformationalVersion="${VERSION}" -p:UseAppHost=false -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /app ./
# The image's own defaults would make Kestrel also try port 8080; the program binds only the addresses its flags name.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    HOME=/tmp
# Numeric, so that the kubelet can check runAsNonRoot; the same UID as deployment.yaml's runAsUser.
USER 65532:65532
# xDS (gRPC), the debug views (loopback by default) and metrics/health: see --help and docs/operations.md.
EXPOSE 8001 8090
ENTRYPOINT ["dotnet", "/app/xds-control-plane.dll"]
