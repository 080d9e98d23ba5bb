# Installs locald on Windows (x86_64; Windows on Arm runs it under emulation).
#
#   irm https://github.com/locald-dev/locald/releases/latest/download/install.ps1 | iex
#   & ([scriptblock]::Create((irm .../install.ps1))) -Version 1.2.3 -NoModifyPath
#
#   -Version / $env:LOCALD_VERSION          a release such as 1.2.3 (default: the latest)
#   -NoModifyPath / $env:LOCALD_NO_MODIFY_PATH=1   leave the user PATH alone
#   $env:LOCALD_INSTALL                     install directory (default: %LOCALAPPDATA%\locald\bin)
#   $env:LOCALD_DOWNLOAD_URL                releases base URL (same layout as GitHub's)
#
# The zip is checked against the release's SHA256SUMS before anything is installed, and
# locald.exe is moved into place from a temporary name in the same directory.
param(
    [string]$Version = $env:LOCALD_VERSION,
    [switch]$NoModifyPath = ($env:LOCALD_NO_MODIFY_PATH -eq '1')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ProgressPreference = 'SilentlyContinue'

# The project, in one place (kept equal to scripts/release/project.ts by the tests).
$LocaldRepo = 'locald-dev/locald'
$ReleasesUrl = "https://github.com/$LocaldRepo/releases"

# `throw`, not `exit`: under `irm | iex` the script runs in the user's session, and `exit`
# would close their terminal.
function Fail([string]$Message, [string]$Hint) {
    if ($Hint) { Write-Host "hint: $Hint" }
    throw "locald-install: error: $Message"
}

if ($Version) {
    $Version = $Version -replace '^v', ''
    if ($Version -notmatch '^\d+\.\d+\.\d+') { Fail "`"$Version`" is not a version" 'pass a release version such as 1.2.3' }
}
$arch = $env:PROCESSOR_ARCHITECTURE
if ($env:PROCESSOR_ARCHITEW6432) { $arch = $env:PROCESSOR_ARCHITEW6432 }
if ($arch -ne 'AMD64' -and $arch -ne 'ARM64') { Fail "unsupported CPU architecture: $arch" 'locald ships for x86_64 Windows' }
$asset = 'locald-windows-x86_64.zip'

$base = if ($env:LOCALD_DOWNLOAD_URL) { $env:LOCALD_DOWNLOAD_URL.TrimEnd('/') } else { $ReleasesUrl }
$dl = if ($Version) { "$base/download/v$Version" } else { "$base/latest/download" }
$dir = if ($env:LOCALD_INSTALL) { $env:LOCALD_INSTALL } else { Join-Path $env:LOCALAPPDATA 'locald\bin' }

$tmp = Join-Path ([System.IO.Path]::GetTempPath()) ("locald-install-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $tmp | Out-Null
$staged = $null
try {
    Write-Host "Downloading locald $(if ($Version) { $Version } else { '(latest)' }) for windows/x86_64"
    try {
        Invoke-WebRequest -UseBasicParsing -Uri "$dl/$asset" -OutFile (Join-Path $tmp $asset)
        Invoke-WebRequest -UseBasicParsing -Uri "$dl/SHA256SUMS" -OutFile (Join-Path $tmp 'SHA256SUMS')
    } catch {
        Fail "cannot download from $dl ($($_.Exception.Message))" 'check the version exists and that you are online; LOCALD_DOWNLOAD_URL sets a mirror'
    }
    $expected = $null
    foreach ($line in Get-Content (Join-Path $tmp 'SHA256SUMS')) {
        $parts = $line -split '\s+', 2
        if ($parts.Count -eq 2 -and $parts[1].TrimStart('*') -eq $asset) { $expected = $parts[0].ToLower() }
    }
    if (-not $expected) { Fail "SHA256SUMS has no entry for $asset" 'this release may not ship Windows' }
    $actual = (Get-FileHash -Algorithm SHA256 -Path (Join-Path $tmp $asset)).Hash.ToLower()
    if ($actual -ne $expected) {
        Fail "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed" 'retry; if it persists, the download or the mirror is corrupt'
    }
    Expand-Archive -Path (Join-Path $tmp $asset) -DestinationPath (Join-Path $tmp 'x')
    $exe = Join-Path $tmp 'x\locald.exe'
    if (-not (Test-Path $exe)) { Fail "$asset does not hold locald.exe" 'report this release as broken' }

    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    $staged = Join-Path $dir ".locald.install.$PID.exe"
    Copy-Item $exe $staged
    Move-Item -Force $staged (Join-Path $dir 'locald.exe')
    $staged = $null
    Write-Host "Installed locald to $(Join-Path $dir 'locald.exe')"

    $userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
    $onPath = ($userPath -split ';') -contains $dir
    if (-not $onPath) {
        if ($NoModifyPath) {
            Write-Host "$dir is not on your PATH; add it in Settings > Environment Variables."
        } else {
            $newPath = if ($userPath) { "$dir;$userPath" } else { $dir }
            [Environment]::SetEnvironmentVariable('Path', $newPath, 'User')
            Write-Host "Added $dir to your user PATH; open a new terminal to use locald."
        }
    }
} finally {
    if ($staged) { Remove-Item -Force -ErrorAction SilentlyContinue $staged }
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $tmp
}
