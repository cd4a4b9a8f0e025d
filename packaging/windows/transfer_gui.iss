; Inno Setup 6 script for the Windows installer of transfer_gui.
;
; Build (from the repository root, after `python packaging/build.py`):
;   iscc /DAppVersion=0.1.0 packaging\windows\transfer_gui.iss
; Output: dist\installer\TransferGUI-<version>-windows-x64-setup.exe
;
; Installs per user (no administrator rights, no UAC prompt) so that people on locked-down
; lab and office machines can install it; everything, the .tgproj association included,
; lives under the user's profile and HKCU.
;
; Silent install, as CI does it:
;   TransferGUI-0.1.0-windows-x64-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /CURRENTUSER /DIR=C:\some\dir
; Silent uninstall: "<install dir>\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES

; Overridable on the command line with /DName=value. Relative paths are relative to this
; script's folder (Inno Setup's default SourceDir).
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef DistDir
  #define DistDir "..\..\dist\TransferGUI"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist\installer"
#endif
#ifndef IconDir
  #define IconDir "..\..\transfer_gui\resources\icons\generated"
#endif

#define AppName "Transfer GUI"
#define AppExeName "TransferGUI.exe"
#define ProjectProgId "TransferGUI.Project"

[Setup]
; The AppId identifies the product to upgrades and the uninstaller: never change it.
AppId={{CEC39DC6-F707-4D6A-9B6A-A00B39EB4B9F}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=transfer_gui contributors
VersionInfoTextVersion={#AppVersion}
VersionInfoProductTextVersion={#AppVersion}
; Per-user install: no elevation, and no /ALLUSERS override, so the HKCU entries below are
; always the installing user's. (/CURRENTUSER on the command line is then simply redundant.)
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\TransferGUI
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; The PyInstaller build is 64-bit only.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Tell Explorer about the .tgproj association so the icon shows without a log-off.
ChangesAssociations=yes
SetupIconFile={#IconDir}\app.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
WizardStyle=modern
OutputDir={#OutputDir}
OutputBaseFilename=TransferGUI-{#AppVersion}-windows-x64-setup
; The bundle holds torch's large DLLs: solid LZMA2 in a separate, multi-threaded process
; keeps the installer small without making the compile take far longer than the build.
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
LZMANumBlockThreads=4

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller one-folder build: the GUI and console executables and _internal\.
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The document icon for .tgproj files, installed beside the executables.
Source: "{#IconDir}\project.ico"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
; .tgproj -> TransferGUI.Project, per user (HKCU\Software\Classes needs no administrator).
; uninsdeletevalue/uninsdeletekey remove exactly what was added on uninstall.
Root: HKCU; Subkey: "Software\Classes\.tgproj"; ValueType: string; ValueName: ""; ValueData: "{#ProjectProgId}"; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\.tgproj\OpenWithProgids"; ValueType: string; ValueName: "{#ProjectProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\{#ProjectProgId}"; ValueType: string; ValueName: ""; ValueData: "Transfer GUI project"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\{#ProjectProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\project.ico,0"
Root: HKCU; Subkey: "Software\Classes\{#ProjectProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""
Root: HKCU; Subkey: "Software\Classes\Applications\{#AppExeName}\SupportedTypes"; ValueType: string; ValueName: ".tgproj"; ValueData: ""; Flags: uninsdeletekey

[Run]
; Offered on the last wizard page; never in silent installs (CI runs the self-test itself).
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#StringChange(AppName, '&', '&&')}}"; Flags: nowait postinstall skipifsilent
