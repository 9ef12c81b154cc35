#!/usr/bin/env bash
# Packs Lustre.Sdk, Lustre.Server and the lustre tool, checks that no type is compiled into two of their assemblies,
# that every package names the repository and that the package README links there, and that Lustre.Server pins
# Lustre.Sdk to its exact version, then builds and runs nuget/consumer against the packed
# packages (by version, from a local folder feed), and installs the tool from the same feed and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# A version of its own for every run, so a package cached by an earlier run is never mistaken for this one.
suffix="local.$(date -u +%Y%m%d%H%M%S)"
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' Directory.Build.props)-$suffix"
out=artifacts/packages
mkdir -p "$out"

echo "== pack $version"
for project in Lustre.Sdk/Lustre.Sdk.csproj Lustre.Server/Lustre.Server.csproj Lustre.Cli/Lustre.Cli.csproj; do
  dotnet pack "$project" -c Release --version-suffix "$suffix" -o "$out" -p:ContinuousIntegrationBuild=true
done

echo "== package contents"
for id in Lustre.Sdk Lustre.Server lustre; do
  nupkg="$out/$id.$version.nupkg"
  test -f "$nupkg" || { echo "missing $nupkg"; exit 1; }
  echo "$id ($(( $(stat -c %s "$nupkg") / 1024 )) KiB): $(unzip -Z1 "$nupkg" | grep -vE '^(_rels|package|\[Content_Types\])' | tr '\n' ' ')"
  if unzip -Z1 "$nupkg" | grep -qiE '(\.tests|benchmarks|xunit|nsubstitute)'; then
    echo "$id contains test or benchmark files"; exit 1
  fi
done

echo "== repository and project URL in every package; the package README links there"
url="$(unzip -p "$out/Lustre.Sdk.$version.nupkg" '*.nuspec' | sed -n 's:.*<projectUrl>\(.*\)</projectUrl>.*:\1:p')"
test -n "$url" || { echo "Lustre.Sdk has no projectUrl"; exit 1; }
for id in Lustre.Sdk Lustre.Server lustre; do
  unzip -p "$out/$id.$version.nupkg" '*.nuspec' | grep -qF "<repository type=\"git\" url=\"$url\"" || { echo "$id: no repository url $url"; exit 1; }
done
if grep -oE '\]\(https?://[^)]*' nuget/README.md | cut -c3- | grep -vF "$url"; then
  echo "nuget/README.md links outside $url (LustreRepositoryUrl)"; exit 1
fi
echo "$url"

echo "== Lustre.Server depends on exactly this Lustre.Sdk (it uses the SDK's internals)"
dependency="$(unzip -p "$out/Lustre.Server.$version.nupkg" '*.nuspec' | grep '<dependency id="Lustre.Sdk"')"
echo "$dependency"
grep -qF "version=\"[$version]\"" <<<"$dependency" || { echo "Lustre.Server must depend on Lustre.Sdk [$version]"; exit 1; }

echo "== every type in exactly one of our assemblies (no source file compiled twice)"
assemblies=artifacts/typecheck
rm -rf "$assemblies" && mkdir -p "$assemblies"
for id in Lustre.Sdk Lustre.Server lustre; do
  unzip -q "$out/$id.$version.nupkg" '*.dll' -d "$assemblies/$id"
done
dotnet run -c Release --project nuget/typecheck -- "$assemblies" Lustre.Sdk Lustre.Server lustre

echo "== consumer (nuget/consumer) against $version"
dotnet run -c Release --project nuget/consumer -p:LustreVersion="$version"

echo "== dotnet tool install lustre from the feed"
tools=artifacts/tools
rm -rf "$tools"
dotnet tool install lustre --tool-path "$tools" --version "$version" --add-source "$out"
"$tools/lustre" --help | head -5

echo "== vulnerable packages"
for project in Lustre.Sdk/Lustre.Sdk.csproj Lustre.Server/Lustre.Server.csproj; do
  dotnet list "$project" package --vulnerable --include-transitive
done | tee artifacts/vulnerable.txt
if grep -q "has the following vulnerable packages" artifacts/vulnerable.txt; then
  echo "vulnerable packages found"; exit 1
fi
echo "pack-and-consume: OK ($version)"
