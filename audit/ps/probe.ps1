<#
.SYNOPSIS
    hvlm probe: reads the facts hvlm needs about this Hyper-V host and prints them as one JSON line.

.DESCRIPTION
    Read-only. It calls Get-* cmdlets, CIM queries, the WSMan: drive and a few registry keys; it
    changes nothing on the host. hvlm runs it over PowerShell Remoting (`hvlm scan`, `hvlm collect`).
    Where hvlm cannot connect, run it on the host yourself, as an administrator:

        powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\hvlm-probe.ps1 | Out-File -Encoding utf8 "$env:COMPUTERNAME.json"

    and turn the files into a snapshot: hvlm collect --from-probe-output *.json -o snapshot.json

    Runs on Windows PowerShell 4.0 (2012 R2), 5.1 and PowerShell 7, Windows Server 2012 R2 to 2025:
    it uses nothing newer than 4.0 (no classes, no [type]::new(), no -AsHashtable or -EscapeHandling,
    no 7-only operators; Get-LocalGroupMember, from 5.1, only where Get-Command finds it), and
    Get-CimInstance, [ordered] and ConvertTo-Json are 3.0. Each section is read in its own
    try/catch and comes back as {"value": ...} or as {"error": {"kind", "message"}}, so a cmdlet
    missing on 2012 R2 or a WMI class the account may not read costs that section only. Enums are converted to their names explicitly: Windows
    PowerShell's ConvertTo-Json (4.0, 5.1) writes enums as numbers. Field names are those of the hvlm
    snapshot schema (`hvlm schema snapshot`).

    Parser note: lists of property names are written as quoted words ('A', 'B'), a form every
    PowerShell parser accepts, including the tree-sitter grammar hvlm's tests use to prove that
    this script only calls read-only commands.
#>

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$HvlmProbeVersion = '1.2.0'

function Get-HvlmProblem {
    # An error record as a section result: {"error": {"kind", "message"}}. The kind tells hvlm how
    # to explain it: not_found (cmdlet, service, class or object missing), access_denied, probe_error.
    param($Record)
    $exception = $Record.Exception
    $category = [string]$Record.CategoryInfo.Category
    $kind = 'probe_error'
    if ($exception -is [System.Management.Automation.CommandNotFoundException]) {
        $kind = 'not_found'
    } elseif ($exception -is [System.UnauthorizedAccessException] -or $category -eq 'PermissionDenied' -or
        $exception.HResult -eq -2147024891) {
        $kind = 'access_denied'
    } elseif ($category -eq 'ObjectNotFound') {
        $kind = 'not_found'
    }
    $message = [string]$exception.Message
    if ($Record.InvocationInfo -and $Record.InvocationInfo.MyCommand) {
        $message = '{0}: {1}' -f [string]$Record.InvocationInfo.MyCommand.Name, $message
    }
    [ordered]@{ error = [ordered]@{ kind = $kind; message = $message } }
}

function Get-HvlmText {
    # A string, or $null for an empty or missing one (Hyper-V reports "no media" as an empty path).
    param($Value)
    $text = [string]$Value
    if ($text) { $text } else { $null }
}

function Get-HvlmThumbprint {
    # The SHA-1 thumbprint of a certificate held as DER bytes (as MSFT_HgsGuardian holds them) or as a
    # certificate object; $null when there is none. Parsing the bytes opens no certificate store.
    param($Certificate)
    if ($null -eq $Certificate) { return $null }
    if ($Certificate -is [System.Security.Cryptography.X509Certificates.X509Certificate2]) {
        return [string]$Certificate.Thumbprint
    }
    $bytes = [byte[]]@($Certificate)
    if ($bytes.Count -eq 0) { return $null }
    $parsed = New-Object -TypeName 'System.Security.Cryptography.X509Certificates.X509Certificate2' -ArgumentList (,$bytes)
    [string]$parsed.Thumbprint
}

function Get-HvlmGuardian {
    # A guardian (MSFT_HgsGuardian) as a key protector names it: its name and its certificates' thumbprints.
    param($Guardian)
    if ($null -eq $Guardian) { return $null }
    [ordered]@{
        Name = [string]$Guardian.Name
        EncryptionCertificateThumbprint = (Get-HvlmThumbprint $Guardian.EncryptionCertificate)
        SigningCertificateThumbprint = (Get-HvlmThumbprint $Guardian.SigningCertificate)
    }
}

function Get-HvlmCimMissing {
    # True when a CIM error says the namespace or class does not exist on this Windows release.
    param($Record)
    $code = [string]$Record.Exception.NativeErrorCode
    ($code -eq 'InvalidNamespace' -or $code -eq 'InvalidClass')
}

$sections = [ordered]@{}

# -- computer_system: Win32_ComputerSystem ---------------------------------------------------------
try {
    $cs = Get-CimInstance -ClassName 'Win32_ComputerSystem'
    $sections['computer_system'] = [ordered]@{ value = [ordered]@{
        Name = [string]$cs.Name
        DNSHostName = $cs.DNSHostName
        Domain = [string]$cs.Domain
        PartOfDomain = [bool]$cs.PartOfDomain
        DomainRole = [int]$cs.DomainRole
        HypervisorPresent = $cs.HypervisorPresent
        TotalPhysicalMemory = $cs.TotalPhysicalMemory
    } }
} catch { $sections['computer_system'] = Get-HvlmProblem $_ }

# -- operating_system: Win32_OperatingSystem (memory in KiB, as WMI reports it) -----------------------
try {
    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'
    $sections['operating_system'] = [ordered]@{ value = [ordered]@{
        Caption = [string]$os.Caption
        Version = [string]$os.Version
        BuildNumber = [string]$os.BuildNumber
        ProductType = $os.ProductType
        FreePhysicalMemory = $os.FreePhysicalMemory
        TotalVisibleMemorySize = $os.TotalVisibleMemorySize
    } }
} catch { $sections['operating_system'] = Get-HvlmProblem $_ }

# -- hyperv_feature: Get-WindowsFeature (InstallState is an enum) -----------------------------------
try {
    $feature = Get-WindowsFeature -Name 'Hyper-V'
    if ($null -eq $feature) {
        $sections['hyperv_feature'] = [ordered]@{ error = [ordered]@{
            kind = 'not_found'; message = 'Get-WindowsFeature: no feature named Hyper-V on this host' } }
    } else {
        $sections['hyperv_feature'] = [ordered]@{ value = [ordered]@{
            Name = [string]$feature.Name
            InstallState = [string]$feature.InstallState
        } }
    }
} catch { $sections['hyperv_feature'] = Get-HvlmProblem $_ }

# -- vmms_service: Get-Service vmms (StartType needs .NET 4.6.1; Win32_Service otherwise) -----------
try {
    $service = Get-Service -Name 'vmms'
    $startType = $null
    if ($service.PSObject.Properties['StartType']) { $startType = [string]$service.StartType }
    if (-not $startType) {
        $mode = [string](Get-CimInstance -ClassName 'Win32_Service' -Filter "Name='vmms'").StartMode
        $startType = @{ Auto = 'Automatic'; Manual = 'Manual'; Disabled = 'Disabled'; Boot = 'Boot'; System = 'System' }[$mode]
    }
    $sections['vmms_service'] = [ordered]@{ value = [ordered]@{
        Name = [string]$service.Name
        Status = [string]$service.Status
        StartType = $startType
    } }
} catch { $sections['vmms_service'] = Get-HvlmProblem $_ }

# -- vmhost: Get-VMHost (authentication type and performance option are enums; MACs as 12 hex digits) --
try {
    $vmhost = Get-VMHost
    $sections['vmhost'] = [ordered]@{ value = [ordered]@{
        ComputerName = [string]$vmhost.ComputerName
        FullyQualifiedDomainName = $vmhost.FullyQualifiedDomainName
        VirtualMachineMigrationEnabled = [bool]$vmhost.VirtualMachineMigrationEnabled
        VirtualMachineMigrationAuthenticationType = [string]$vmhost.VirtualMachineMigrationAuthenticationType
        VirtualMachineMigrationPerformanceOption = [string]$vmhost.VirtualMachineMigrationPerformanceOption
        MaximumVirtualMachineMigrations = [int]$vmhost.MaximumVirtualMachineMigrations
        MaximumStorageMigrations = [int]$vmhost.MaximumStorageMigrations
        UseAnyNetworkForMigration = [bool]$vmhost.UseAnyNetworkForMigration
        MemoryCapacity = $vmhost.MemoryCapacity
        LogicalProcessorCount = $vmhost.LogicalProcessorCount
        VirtualMachinePath = (Get-HvlmText $vmhost.VirtualMachinePath)
        VirtualHardDiskPath = (Get-HvlmText $vmhost.VirtualHardDiskPath)
        MacAddressMinimum = (Get-HvlmText $vmhost.MacAddressMinimum)
        MacAddressMaximum = (Get-HvlmText $vmhost.MacAddressMaximum)
    } }
} catch { $sections['vmhost'] = Get-HvlmProblem $_ }

# -- migration_networks: Get-VMMigrationNetwork ----------------------------------------------------
try {
    $networks = @(foreach ($network in @(Get-VMMigrationNetwork)) {
        [ordered]@{ Subnet = [string]$network.Subnet; Priority = $network.Priority }
    })
    $sections['migration_networks'] = [ordered]@{ value = $networks }
} catch { $sections['migration_networks'] = Get-HvlmProblem $_ }

# -- ip_interfaces: Get-NetIPAddress + default gateways (Get-NetRoute) + Get-NetAdapterRdma ---------
try {
    $gateways = @{}
    $routes = @(Get-NetRoute -DestinationPrefix '0.0.0.0/0', '::/0' -ErrorAction 'SilentlyContinue' |
        Sort-Object -Property 'RouteMetric')
    foreach ($route in $routes) {
        $key = '{0}/{1}' -f $route.ifIndex, [string]$route.AddressFamily
        $hop = [string]$route.NextHop
        if (-not $gateways.ContainsKey($key) -and $hop -ne '0.0.0.0' -and $hop -ne '::') { $gateways[$key] = $hop }
    }
    # RDMA is extra detail: when the cmdlet is missing or fails, RdmaEnabled stays null (unknown).
    $rdma = @{}
    try {
        foreach ($adapter in @(Get-NetAdapterRdma)) { $rdma[[string]$adapter.Name] = [bool]$adapter.Enabled }
    } catch { $rdma = @{} }
    $interfaces = @(foreach ($address in @(Get-NetIPAddress)) {
        $ip = [string]$address.IPAddress
        if ($ip -like '127.*' -or $ip -eq '::1' -or $ip -like 'fe80:*') { continue }
        $family = [string]$address.AddressFamily
        $alias = [string]$address.InterfaceAlias
        $rdmaEnabled = $null
        if ($rdma.ContainsKey($alias)) { $rdmaEnabled = $rdma[$alias] }
        [ordered]@{
            InterfaceAlias = $alias
            IPAddress = $ip
            PrefixLength = [int]$address.PrefixLength
            AddressFamily = $family
            DefaultGateway = $gateways['{0}/{1}' -f $address.InterfaceIndex, $family]
            RdmaEnabled = $rdmaEnabled
        }
    })
    $sections['ip_interfaces'] = [ordered]@{ value = $interfaces }
} catch { $sections['ip_interfaces'] = Get-HvlmProblem $_ }

# -- firewall_rules: the live migration rule (Enabled, Direction, Action, Profile are enums) ---------
# From the ActiveStore, the policy in force (local rules merged with Group Policy): without
# -PolicyStore the cmdlet reads the local PersistentStore, which a GPO can override or disable.
try {
    try {
        $rules = @(Get-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope' -PolicyStore 'ActiveStore')
    } catch {
        if ([string]$_.CategoryInfo.Category -ne 'ObjectNotFound') { throw }
        $rules = @()
    }
    $ruleValues = @(foreach ($rule in $rules) {
        [ordered]@{
            Name = [string]$rule.Name
            DisplayName = [string]$rule.DisplayName
            Enabled = ([string]$rule.Enabled -eq 'True')
            Direction = [string]$rule.Direction
            Action = [string]$rule.Action
            Profile = [string]$rule.Profile
        }
    })
    $sections['firewall_rules'] = [ordered]@{ value = $ruleValues }
} catch { $sections['firewall_rules'] = Get-HvlmProblem $_ }

# -- vm_switches: Get-VMSwitch -----------------------------------------------------------------------
try {
    $switches = @(foreach ($switch in @(Get-VMSwitch)) {
        [ordered]@{ Name = [string]$switch.Name; SwitchType = [string]$switch.SwitchType }
    })
    $sections['vm_switches'] = [ordered]@{ value = $switches }
} catch { $sections['vm_switches'] = Get-HvlmProblem $_ }

# -- supported_versions: Get-VMHostSupportedVersion (Windows Server 2016 and later) -------------------
try {
    $versions = @(foreach ($version in @(Get-VMHostSupportedVersion)) {
        [ordered]@{ Name = [string]$version.Name; Version = [string]$version.Version; IsDefault = [bool]$version.IsDefault }
    })
    $sections['supported_versions'] = [ordered]@{ value = $versions }
} catch { $sections['supported_versions'] = Get-HvlmProblem $_ }

# -- vms: Get-VM with Get-VMProcessor and the network adapters (State is an enum) ---------------------
try {
    $vms = @(foreach ($vm in @(Get-VM)) {
        $processor = Get-VMProcessor -VM $vm
        $adapters = @(foreach ($adapter in $vm.NetworkAdapters) {
            [ordered]@{ Name = [string]$adapter.Name; SwitchName = $adapter.SwitchName }
        })
        [ordered]@{
            Name = [string]$vm.Name
            Id = [string]$vm.Id
            Version = [string]$vm.Version
            State = [string]$vm.State
            Generation = [int]$vm.Generation
            MemoryStartup = [long]$vm.MemoryStartup
            MemoryAssigned = [long]$vm.MemoryAssigned
            DynamicMemoryEnabled = [bool]$vm.DynamicMemoryEnabled
            CompatibilityForMigrationEnabled = [bool]$processor.CompatibilityForMigrationEnabled
            NetworkAdapters = $adapters
        }
    })
    $sections['vms'] = [ordered]@{ value = $vms }
} catch { $sections['vms'] = Get-HvlmProblem $_ }

# -- processor: Win32_Processor, first socket -------------------------------------------------------
try {
    $cpu = @(Get-CimInstance -ClassName 'Win32_Processor')[0]
    $sections['processor'] = [ordered]@{ value = [ordered]@{
        Manufacturer = [string]$cpu.Manufacturer
        Name = [string]$cpu.Name
        NumberOfLogicalProcessors = $cpu.NumberOfLogicalProcessors
    } }
} catch { $sections['processor'] = Get-HvlmProblem $_ }

# -- local_groups: Hyper-V Administrators (S-1-5-32-578) and Administrators (S-1-5-32-544) by SID -------
# Names are localised, SIDs are not. Get-LocalGroupMember exists from Windows Server 2016 and fails on
# groups holding orphaned SIDs; the WinNT ADSI provider works everywhere (without PrincipalSource).
# New-Object, not [type]::new(): a stock 2012 R2 host runs Windows PowerShell 4.0, which has no ::new.
try {
    $groups = [ordered]@{}
    $haveCmdlet = [bool](Get-Command -Name 'Get-LocalGroupMember' -ErrorAction 'SilentlyContinue')
    foreach ($sid in @('S-1-5-32-578', 'S-1-5-32-544')) {
        try {
            $account = ([System.Security.Principal.SecurityIdentifier]$sid).Translate([System.Security.Principal.NTAccount]).Value
        } catch {
            continue  # the group does not exist on this host
        }
        $groupName = $account.Split('\')[-1]
        $members = $null
        if ($haveCmdlet) {
            try {
                $members = @(foreach ($member in @(Get-LocalGroupMember -SID $sid)) {
                    [ordered]@{
                        Name = [string]$member.Name
                        SID = [string]$member.SID
                        ObjectClass = [string]$member.ObjectClass
                        PrincipalSource = [string]$member.PrincipalSource
                    }
                })
            } catch { $members = $null }
        }
        if ($null -eq $members) {
            $group = [ADSI]('WinNT://{0}/{1},group' -f $env:COMPUTERNAME, $groupName)
            $members = @(foreach ($member in @($group.psbase.Invoke('Members'))) {
                $memberType = $member.GetType()
                $path = [string]$memberType.InvokeMember('ADsPath', 'GetProperty', $null, $member, $null)
                $class = [string]$memberType.InvokeMember('Class', 'GetProperty', $null, $member, $null)
                $sidBytes = [byte[]]$memberType.InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
                $parts = $path.Substring(8).Split('/')
                $name = $parts[-1]
                if ($parts.Count -ge 2) { $name = '{0}\{1}' -f $parts[-2], $parts[-1] }
                [ordered]@{
                    Name = $name
                    SID = (New-Object -TypeName 'System.Security.Principal.SecurityIdentifier' -ArgumentList $sidBytes, 0).Value
                    ObjectClass = $class
                    PrincipalSource = $null
                }
            })
        }
        $groups[$sid] = [ordered]@{ Name = $groupName; Members = $members }
    }
    $sections['local_groups'] = [ordered]@{ value = $groups }
} catch { $sections['local_groups'] = Get-HvlmProblem $_ }

# -- device_guard: Win32_DeviceGuard. Its namespace exists from Windows Server 2016; where it does not,
# no virtualization-based security service can run: reported as none running, status null. ------------
try {
    try {
        $dg = Get-CimInstance -Namespace 'root\Microsoft\Windows\DeviceGuard' -ClassName 'Win32_DeviceGuard'
        $sections['device_guard'] = [ordered]@{ value = [ordered]@{
            SecurityServicesRunning = @(foreach ($n in $dg.SecurityServicesRunning) { [int]$n })
            SecurityServicesConfigured = @(foreach ($n in $dg.SecurityServicesConfigured) { [int]$n })
            VirtualizationBasedSecurityStatus = $dg.VirtualizationBasedSecurityStatus
        } }
    } catch {
        if (-not (Get-HvlmCimMissing $_)) { throw }
        $sections['device_guard'] = [ordered]@{ value = [ordered]@{
            SecurityServicesRunning = @()
            SecurityServicesConfigured = @()
            VirtualizationBasedSecurityStatus = $null
        } }
    }
} catch { $sections['device_guard'] = Get-HvlmProblem $_ }

# -- wsman_credssp: CredSSP client/service settings and the AllowFreshCredentials policy -------------
try {
    $client = [string](Get-Item -LiteralPath 'WSMan:\localhost\Client\Auth\CredSSP').Value
    $server = [string](Get-Item -LiteralPath 'WSMan:\localhost\Service\Auth\CredSSP').Value
    $fresh = @()
    $policy = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\CredentialsDelegation\AllowFreshCredentials'
    if (Test-Path -LiteralPath $policy) {
        $policyKey = Get-Item -LiteralPath $policy
        $fresh = @(foreach ($valueName in @($policyKey.GetValueNames() | Sort-Object)) {
            if ($valueName) { [string]$policyKey.GetValue($valueName) }
        })
    }
    $sections['wsman_credssp'] = [ordered]@{ value = [ordered]@{
        ClientCredSSP = ($client -eq 'true')
        ServiceCredSSP = ($server -eq 'true')
        AllowFreshCredentials = $fresh
    } }
} catch { $sections['wsman_credssp'] = Get-HvlmProblem $_ }

# -- clock: the host's UTC time, to compare with the domain controller's ----------------------------
$invariant = [System.Globalization.CultureInfo]::InvariantCulture
try {
    $sections['clock'] = [ordered]@{ value = [ordered]@{
        UtcTime = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $invariant)
    } }
} catch { $sections['clock'] = Get-HvlmProblem $_ }

# -- vm_hard_disks: Get-VMHardDiskDrive of every VM, Get-VHD of each file and of its parent chain --------
# A pass-through disk has a DiskNumber and no virtual disk file. Get-VHD of one file can fail (a disk
# on an SMB share this session may not reach, a missing file): that disk's VhdError says why, and the
# other disks stay usable. The chain of a differencing disk (a checkpoint's AVHDX) is followed to its
# base disk, at most 64 levels.
try {
    $disks = @(foreach ($vm in @(Get-VM)) {
        foreach ($drive in @(Get-VMHardDiskDrive -VM $vm)) {
            $entry = [ordered]@{
                VMName = [string]$vm.Name
                VMId = [string]$vm.Id
                ControllerType = [string]$drive.ControllerType
                ControllerNumber = $drive.ControllerNumber
                ControllerLocation = $drive.ControllerLocation
                Path = (Get-HvlmText $drive.Path)
                DiskNumber = $drive.DiskNumber
                VhdType = $null
                VhdFormat = $null
                FileSize = $null
                Size = $null
                ParentPath = $null
                Parents = @()
                VhdError = $null
            }
            if ($null -eq $drive.DiskNumber -and $entry['Path']) {
                try {
                    $vhd = Get-VHD -Path $entry['Path']
                    $entry['VhdType'] = [string]$vhd.VhdType
                    $entry['VhdFormat'] = [string]$vhd.VhdFormat
                    $entry['FileSize'] = [long]$vhd.FileSize
                    $entry['Size'] = [long]$vhd.Size
                    $entry['ParentPath'] = (Get-HvlmText $vhd.ParentPath)
                    $parentPath = $entry['ParentPath']
                    $chain = @()
                    while ($parentPath -and $chain.Count -lt 64) {
                        $parent = Get-VHD -Path $parentPath
                        $chain += [ordered]@{
                            Path = $parentPath
                            VhdType = [string]$parent.VhdType
                            FileSize = [long]$parent.FileSize
                            Size = [long]$parent.Size
                        }
                        $parentPath = (Get-HvlmText $parent.ParentPath)
                    }
                    $entry['Parents'] = $chain
                } catch { $entry['VhdError'] = [string]$_.Exception.Message }
            }
            $entry
        }
    })
    $sections['vm_hard_disks'] = [ordered]@{ value = $disks }
} catch { $sections['vm_hard_disks'] = Get-HvlmProblem $_ }

# -- vm_media: DVD drives (DvdMediaType is an enum) and, on generation 1 VMs, floppy drives -----------
try {
    $media = @(foreach ($vm in @(Get-VM)) {
        foreach ($dvd in @(Get-VMDvdDrive -VM $vm)) {
            [ordered]@{
                VMName = [string]$vm.Name
                VMId = [string]$vm.Id
                DriveType = 'DvdDrive'
                ControllerNumber = $dvd.ControllerNumber
                ControllerLocation = $dvd.ControllerLocation
                Path = (Get-HvlmText $dvd.Path)
                DvdMediaType = (Get-HvlmText $dvd.DvdMediaType)
            }
        }
        if ($vm.Generation -eq 1) {
            foreach ($floppy in @(Get-VMFloppyDiskDrive -VM $vm)) {
                [ordered]@{
                    VMName = [string]$vm.Name
                    VMId = [string]$vm.Id
                    DriveType = 'FloppyDiskDrive'
                    ControllerNumber = $null
                    ControllerLocation = $null
                    Path = (Get-HvlmText $floppy.Path)
                    DvdMediaType = $null
                }
            }
        }
    })
    $sections['vm_media'] = [ordered]@{ value = $media }
} catch { $sections['vm_media'] = Get-HvlmProblem $_ }

# -- vm_assigned_devices: Discrete Device Assignment. Get-VMAssignableDevice came with Windows Server
# 2016, as DDA did: where the cmdlet does not exist no device can be assigned, an empty list. ----------
try {
    $devices = @()
    if (Get-Command -Name 'Get-VMAssignableDevice' -ErrorAction 'SilentlyContinue') {
        $devices = @(foreach ($vm in @(Get-VM)) {
            foreach ($device in @(Get-VMAssignableDevice -VM $vm)) {
                [ordered]@{
                    VMName = [string]$vm.Name
                    VMId = [string]$vm.Id
                    InstanceID = (Get-HvlmText $device.InstanceID)
                    LocationPath = (Get-HvlmText $device.LocationPath)
                }
            }
        })
    }
    $sections['vm_assigned_devices'] = [ordered]@{ value = $devices }
} catch { $sections['vm_assigned_devices'] = Get-HvlmProblem $_ }

# -- vm_security: Get-VMSecurity and Get-VMKeyProtector. Both came with Windows Server 2016, as virtual
# TPMs and shielded VMs did: where they do not exist no VM has either, reported as false. A VM without
# a key protector returns a stub of a few bytes; one that cannot be read is null. --------------------
try {
    $haveSecurity = [bool](Get-Command -Name 'Get-VMSecurity' -ErrorAction 'SilentlyContinue')
    $security = @(foreach ($vm in @(Get-VM)) {
        $tpm = $false
        $shielded = $false
        $encrypt = $null
        $protector = $false
        if ($haveSecurity) {
            $vmSecurity = Get-VMSecurity -VM $vm
            $tpm = [bool]$vmSecurity.TpmEnabled
            $shielded = [bool]$vmSecurity.Shielded
            $encrypt = [bool]$vmSecurity.EncryptStateAndVmMigrationTraffic
            try {
                $protector = (@(Get-VMKeyProtector -VM $vm).Count -gt 4)
            } catch { $protector = $null }
        }
        [ordered]@{
            VMName = [string]$vm.Name
            VMId = [string]$vm.Id
            TpmEnabled = $tpm
            Shielded = $shielded
            EncryptStateAndVmMigrationTraffic = $encrypt
            KeyProtectorPresent = $protector
        }
    })
    $sections['vm_security'] = [ordered]@{ value = $security }
} catch { $sections['vm_security'] = Get-HvlmProblem $_ }

# -- volumes: Win32_Volume (every Windows release; Name is the mount path, folder mounts included) -------
try {
    $volumes = @(foreach ($volume in @(Get-CimInstance -ClassName 'Win32_Volume')) {
        [ordered]@{
            Name = [string]$volume.Name
            DriveLetter = (Get-HvlmText $volume.DriveLetter)
            Label = (Get-HvlmText $volume.Label)
            FileSystem = (Get-HvlmText $volume.FileSystem)
            DriveType = $volume.DriveType
            Capacity = $volume.Capacity
            FreeSpace = $volume.FreeSpace
        }
    })
    $sections['volumes'] = [ordered]@{ value = $volumes }
} catch { $sections['volumes'] = Get-HvlmProblem $_ }

# -- pending_reboot: the servicing stack's and Windows Update's markers, and file renames queued for boot --
try {
    $servicing = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
    $update = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
    $sessionManager = Get-Item -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
    $renames = $sessionManager.GetValue('PendingFileRenameOperations')
    $pendingRenames = $false
    if ($null -ne $renames) { $pendingRenames = (@($renames | Where-Object { $_ }).Count -gt 0) }
    $sections['pending_reboot'] = [ordered]@{ value = [ordered]@{
        ComponentBasedServicing = [bool]$servicing
        WindowsUpdate = [bool]$update
        PendingFileRenameOperations = $pendingRenames
    } }
} catch { $sections['pending_reboot'] = Get-HvlmProblem $_ }

# -- hgs_client: Get-HgsClientConfiguration (Mode and AttestationStatus are enums). The HgsClient module
# came with Windows Server 2016, as virtual TPMs did: where the cmdlet does not exist, Installed is false
# and no VM with a virtual TPM can run on the host. ----------------------------------------------------
try {
    $hgsClient = [ordered]@{
        Installed = $false
        Mode = $null
        IsHostGuarded = $null
        KeyProtectionServerUrl = $null
        AttestationServerUrl = $null
        AttestationStatus = $null
    }
    if (Get-Command -Name 'Get-HgsClientConfiguration' -ErrorAction 'SilentlyContinue') {
        $hgsConfig = Get-HgsClientConfiguration
        $hgsClient['Installed'] = $true
        $hgsClient['Mode'] = (Get-HvlmText $hgsConfig.Mode)
        $hgsClient['IsHostGuarded'] = [bool]$hgsConfig.IsHostGuarded
        $hgsClient['KeyProtectionServerUrl'] = (Get-HvlmText $hgsConfig.KeyProtectionServerUrl)
        $hgsClient['AttestationServerUrl'] = (Get-HvlmText $hgsConfig.AttestationServerUrl)
        $hgsClient['AttestationStatus'] = (Get-HvlmText $hgsConfig.AttestationStatus)
    }
    $sections['hgs_client'] = [ordered]@{ value = $hgsClient }
} catch { $sections['hgs_client'] = Get-HvlmProblem $_ }

# -- hgs_guardians: Get-HgsGuardian, and the certificates of the local guardians in 'Shielded VM Local
# Certificates' (a host not guarded by HGS keeps its UntrustedGuardian's there). HasPrivateKey says
# whether the private key is present; the key itself is not opened. Where Get-HgsGuardian does not
# exist (before 2016) and the store is absent, both lists are empty. ---------------------------------
try {
    $guardians = @()
    if (Get-Command -Name 'Get-HgsGuardian' -ErrorAction 'SilentlyContinue') {
        $guardians = @(foreach ($guardian in @(Get-HgsGuardian)) {
            [ordered]@{
                Name = [string]$guardian.Name
                HasPrivateSigningKey = [bool]$guardian.HasPrivateSigningKey
                EncryptionCertificateThumbprint = (Get-HvlmThumbprint $guardian.EncryptionCertificate)
                SigningCertificateThumbprint = (Get-HvlmThumbprint $guardian.SigningCertificate)
            }
        })
    }
    $localStore = 'Cert:\LocalMachine\Shielded VM Local Certificates'
    $localCertificates = @()
    if (Test-Path -LiteralPath $localStore) {
        $localCertificates = @(foreach ($certificate in @(Get-ChildItem -LiteralPath $localStore)) {
            [ordered]@{
                Subject = [string]$certificate.Subject
                Thumbprint = [string]$certificate.Thumbprint
                HasPrivateKey = [bool]$certificate.HasPrivateKey
                NotAfter = $certificate.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
            }
        })
    }
    $sections['hgs_guardians'] = [ordered]@{ value = [ordered]@{
        Guardians = $guardians
        LocalCertificates = $localCertificates
    } }
} catch { $sections['hgs_guardians'] = Get-HvlmProblem $_ }

# -- vm_key_protectors: the guardians each VM's key protector names. Get-VMKeyProtector returns its raw
# bytes and ConvertTo-HgsKeyProtector only parses them (the VM and its keys are untouched). Only
# generation 2 VMs with a key protector have a row (one without returns a stub of a few bytes); a key
# protector that cannot be read or parsed keeps its row, with ReadError. Both cmdlets came with Windows
# Server 2016: where either is missing no VM has a key protector, an empty list. -----------------------
try {
    $keyProtectors = @()
    if ((Get-Command -Name 'Get-VMKeyProtector' -ErrorAction 'SilentlyContinue') -and
        (Get-Command -Name 'ConvertTo-HgsKeyProtector' -ErrorAction 'SilentlyContinue')) {
        $keyProtectors = @(foreach ($vm in @(Get-VM)) {
            if ($vm.Generation -ne 2) { continue }
            $entry = [ordered]@{
                VMName = [string]$vm.Name
                VMId = [string]$vm.Id
                Owner = $null
                Guardians = @()
                ReadError = $null
            }
            try {
                $rawProtector = [byte[]]@(Get-VMKeyProtector -VM $vm)
                if ($rawProtector.Count -le 4) { continue }
                $protector = ConvertTo-HgsKeyProtector -Bytes $rawProtector
                $entry['Owner'] = (Get-HvlmGuardian $protector.Owner)
                $entry['Guardians'] = @(foreach ($granted in @($protector.Guardians)) { Get-HvlmGuardian $granted })
            } catch { $entry['ReadError'] = [string]$_.Exception.Message }
            $entry
        })
    }
    $sections['vm_key_protectors'] = [ordered]@{ value = $keyProtectors }
} catch { $sections['vm_key_protectors'] = Get-HvlmProblem $_ }

# -- logon_rights: "Log on as a service" and "Create symbolic links" as Group Policy sets them, from the
# Resultant Set of Policy the Group Policy service logs at each refresh (root\rsop\computer; read only).
# GroupPolicyObjects counts the GPOs logged: 0 means no RSoP data (logging turned off, or policy never
# applied), and then nothing can be said. Accounts are listed as the GPO writes them, each with its SID
# where it resolves (a GPO writes an account it could not name as *S-1-...). Precedence 1 is the GPO that
# wins. Effective: who holds each right in force (local policy with Group Policy applied), read with
# `secedit /export /areas USER_RIGHTS`, which only reads the local security database and changes no
# setting; it writes its answer to a file, in a folder with a random name created for it under $env:TEMP,
# and both are always deleted (finally). secedit needs Administrators: when it fails, Effective is null
# and EffectiveError says why (the rest of the section stands). A right the export does not list is held
# by no one (an empty list). -------------------------------------------------------------------------
try {
    $rsopNamespace = 'root\rsop\computer'
    $gpoNames = @{}
    $gpoCount = 0
    $rights = @()
    try {
        foreach ($gpo in @(Get-CimInstance -Namespace $rsopNamespace -ClassName 'RSOP_GPO')) {
            $gpoCount += 1
            $gpoNames[[string]$gpo.id] = [string]$gpo.name
        }
        $rightFilter = "UserRight='SeServiceLogonRight' OR UserRight='SeCreateSymbolicLinkPrivilege'"
        $rights = @(foreach ($right in @(Get-CimInstance -Namespace $rsopNamespace -ClassName 'RSOP_UserPrivilegeRight' -Filter $rightFilter)) {
            $accounts = @(foreach ($account in @($right.AccountList)) {
                $accountName = [string]$account
                $accountSid = $null
                if ($accountName -match '^\*?(S-1-[0-9-]+)$') {
                    $accountSid = $Matches[1]
                } else {
                    try {
                        $accountSid = ([System.Security.Principal.NTAccount]$accountName).Translate([System.Security.Principal.SecurityIdentifier]).Value
                    } catch { $accountSid = $null }
                }
                [ordered]@{ Name = $accountName; SID = $accountSid }
            })
            $gpoName = $null
            if ($gpoNames.ContainsKey([string]$right.GPOID)) { $gpoName = $gpoNames[[string]$right.GPOID] }
            [ordered]@{
                UserRight = [string]$right.UserRight
                Precedence = $right.precedence
                GPOID = [string]$right.GPOID
                GPOName = $gpoName
                Accounts = $accounts
            }
        })
    } catch {
        if (-not (Get-HvlmCimMissing $_)) { throw }
        $gpoCount = 0
        $rights = @()
    }
    $effective = $null
    $effectiveError = $null
    $rightsCreated = $false
    try {
        $rightsDir = Join-Path -Path $env:TEMP -ChildPath ('hvlm-rights-' + [System.IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType 'Directory' -Path $rightsDir
        $rightsCreated = $true
        $rightsFile = Join-Path -Path $rightsDir -ChildPath 'user-rights.inf'
        $exportOutput = @(secedit.exe /export /areas USER_RIGHTS /cfg $rightsFile /quiet)
        $exportCode = $LASTEXITCODE
        if ($exportCode -ne 0 -or -not (Test-Path -LiteralPath $rightsFile -PathType 'Leaf')) {
            $effectiveError = ('the export of the user rights failed with exit code {0}: {1}' -f $exportCode, ((@($exportOutput) -join ' ').Trim()))
        } else {
            $effective = [ordered]@{ SeServiceLogonRight = @(); SeCreateSymbolicLinkPrivilege = @() }
            $inPrivileges = $false
            foreach ($line in @(Get-Content -LiteralPath $rightsFile)) {
                $trimmed = ([string]$line).Trim()
                if ($trimmed -match '^\[(.+)\]$') { $inPrivileges = ($Matches[1] -eq 'Privilege Rights'); continue }
                if (-not $inPrivileges) { continue }
                if ($trimmed -match '^(SeServiceLogonRight|SeCreateSymbolicLinkPrivilege)\s*=\s*(.*)$') {
                    $rightName = $Matches[1]
                    $holders = @(foreach ($entry in @($Matches[2].Split(','))) {
                        $entryName = ([string]$entry).Trim()
                        if (-not $entryName) { continue }
                        $entrySid = $null
                        if ($entryName -match '^\*?(S-1-[0-9-]+)$') {
                            $entrySid = $Matches[1]
                        } else {
                            try {
                                $entrySid = ([System.Security.Principal.NTAccount]$entryName).Translate([System.Security.Principal.SecurityIdentifier]).Value
                            } catch { $entrySid = $null }
                        }
                        [ordered]@{ Name = $entryName; SID = $entrySid }
                    })
                    $effective[$rightName] = $holders
                }
            }
        }
    } catch {
        $effective = $null
        $effectiveError = [string]$_.Exception.Message
    } finally {
        if ($rightsCreated) { Remove-Item -LiteralPath $rightsDir -Recurse -Force }
    }
    $sections['logon_rights'] = [ordered]@{ value = [ordered]@{
        GroupPolicyObjects = $gpoCount
        Rights = $rights
        Effective = $effective
        EffectiveError = $effectiveError
    } }
} catch { $sections['logon_rights'] = Get-HvlmProblem $_ }

# -- policy_file: the local Group Policy file Registry.pol. Only its first 8 bytes are read, through a
# read-only handle that lets Group Policy go on writing: a well-formed file starts with 'PReg' and
# version 1 (50 52 65 67 01 00 00 00). No file (no local policy set) is normal. ------------------------
try {
    $polPath = '{0}\System32\GroupPolicy\Machine\Registry.pol' -f $env:SystemRoot
    $policyFile = [ordered]@{
        Path = $polPath
        Exists = $false
        Length = $null
        Header = $null
        ReadError = $null
    }
    if (Test-Path -LiteralPath $polPath -PathType 'Leaf') {
        $policyFile['Exists'] = $true
        $polStream = $null
        try {
            $polStream = [System.IO.File]::Open($polPath, 'Open', 'Read', 'ReadWrite')
            $policyFile['Length'] = [long]$polStream.Length
            $polBytes = [byte[]]@(0, 0, 0, 0, 0, 0, 0, 0)
            $polCount = $polStream.Read($polBytes, 0, 8)
            $policyFile['Header'] = ''
            if ($polCount -gt 0) {
                $policyFile['Header'] = (@(foreach ($polByte in $polBytes[0..($polCount - 1)]) { '{0:X2}' -f $polByte }) -join '')
            }
        } catch {
            $policyFile['ReadError'] = [string]$_.Exception.Message
        } finally {
            if ($null -ne $polStream) { $polStream.Dispose() }
        }
    }
    $sections['policy_file'] = [ordered]@{ value = $policyFile }
} catch { $sections['policy_file'] = Get-HvlmProblem $_ }
# -- vm_files: where each VM keeps its configuration, checkpoints and smart paging file, and the bytes of
# its own configuration and runtime-state files (Get-ChildItem lists them, no file is opened). Hyper-V
# names them by the VM's Id under <ConfigurationLocation>\Virtual Machines: <Id>.xml and an <Id> folder
# with the .bin/.vsv memory state on 2012 R2, <Id>.vmcx/.vmrs/.vmgs from 2016. A folder that cannot be
# listed costs that VM's bytes only (FilesError says why). -----------------------------------------------
function Get-HvlmFileBytes {
    # The bytes of the files in $Folder whose names start with $Stem, and of every file under $Folder\$Stem*.
    param($Folder, $Stem)
    $total = [long]0
    if (-not $Folder -or -not (Test-Path -LiteralPath $Folder)) { return $total }
    foreach ($item in @(Get-ChildItem -LiteralPath $Folder -Force | Where-Object { $_.Name -like ($Stem + '*') })) {
        if ($item.PSIsContainer) {
            foreach ($file in @(Get-ChildItem -LiteralPath $item.FullName -Recurse -Force | Where-Object { -not $_.PSIsContainer })) {
                $total += [long]$file.Length
            }
        } else {
            $total += [long]$item.Length
        }
    }
    $total
}

try {
    $vmFiles = @(foreach ($vm in @(Get-VM)) {
        $entry = [ordered]@{
            VMName = [string]$vm.Name
            VMId = [string]$vm.Id
            Path = (Get-HvlmText $vm.Path)
            ConfigurationLocation = (Get-HvlmText $vm.ConfigurationLocation)
            SnapshotFileLocation = (Get-HvlmText $vm.SnapshotFileLocation)
            SmartPagingFilePath = (Get-HvlmText $vm.SmartPagingFilePath)
            SmartPagingFileInUse = [bool]$vm.SmartPagingFileInUse
            ConfigurationBytes = $null
            FilesError = $null
        }
        try {
            $folder = '{0}\Virtual Machines' -f ([string]$vm.ConfigurationLocation).TrimEnd('\')
            $entry['ConfigurationBytes'] = [long](Get-HvlmFileBytes $folder ([string]$vm.Id))
        } catch { $entry['FilesError'] = [string]$_.Exception.Message }
        $entry
    })
    $sections['vm_files'] = [ordered]@{ value = $vmFiles }
} catch { $sections['vm_files'] = Get-HvlmProblem $_ }

# -- vm_checkpoints: Get-VMSnapshot (every release; Get-VMCheckpoint is its 2016 alias). SnapshotType is an
# enum. StateBytes: the checkpoint's configuration and saved memory under <Path>\Snapshots\<Id>*; HardDrives:
# the disks as the checkpoint holds them, with Get-VHD's FileSize, so that files of another branch of the
# checkpoint tree (not in the current disks' parent chain) are counted too. ------------------------------
try {
    $checkpoints = @(foreach ($vm in @(Get-VM)) {
        foreach ($snapshot in @(Get-VMSnapshot -VM $vm)) {
            $entry = [ordered]@{
                VMName = [string]$vm.Name
                VMId = [string]$vm.Id
                Name = [string]$snapshot.Name
                Id = [string]$snapshot.Id
                SnapshotType = [string]$snapshot.SnapshotType
                ParentSnapshotId = (Get-HvlmText $snapshot.ParentSnapshotId)
                CreationTime = $null
                Path = (Get-HvlmText $snapshot.Path)
                HardDrives = @()
                StateBytes = $null
                FilesError = $null
            }
            if ($snapshot.CreationTime) {
                $entry['CreationTime'] = ([DateTime]$snapshot.CreationTime).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
            }
            try {
                $folder = '{0}\Snapshots' -f ([string]$snapshot.Path).TrimEnd('\')
                $entry['StateBytes'] = [long](Get-HvlmFileBytes $folder ([string]$snapshot.Id))
                $entry['HardDrives'] = @(foreach ($drive in @($snapshot.HardDrives)) {
                    $drivePath = (Get-HvlmText $drive.Path)
                    if (-not $drivePath -or $null -ne $drive.DiskNumber) { continue }
                    [ordered]@{ Path = $drivePath; FileSize = [long](Get-VHD -Path $drivePath).FileSize }
                })
            } catch { $entry['FilesError'] = [string]$_.Exception.Message }
            $entry
        }
    })
    $sections['vm_checkpoints'] = [ordered]@{ value = $checkpoints }
} catch { $sections['vm_checkpoints'] = Get-HvlmProblem $_ }

# -- vm_gpu_partitions: GPU partition adapters (GPU-P). Get-VMGpuPartitionAdapter came with Windows Server
# 2019 and its SupportsOutgoingLiveMigration property with 2025: where the cmdlet does not exist no VM has a
# partition (an empty list); where the property does not, it is null (unknown). ---------------------------
try {
    $partitions = @()
    if (Get-Command -Name 'Get-VMGpuPartitionAdapter' -ErrorAction 'SilentlyContinue') {
        $partitions = @(foreach ($vm in @(Get-VM)) {
            foreach ($adapter in @(Get-VMGpuPartitionAdapter -VM $vm)) {
                $outgoing = $null
                if ($adapter.PSObject.Properties['SupportsOutgoingLiveMigration']) {
                    $outgoing = [bool]$adapter.SupportsOutgoingLiveMigration
                }
                [ordered]@{
                    VMName = [string]$vm.Name
                    VMId = [string]$vm.Id
                    Id = (Get-HvlmText $adapter.Id)
                    InstancePath = (Get-HvlmText $adapter.InstancePath)
                    SupportsOutgoingLiveMigration = $outgoing
                }
            }
        })
    }
    $sections['vm_gpu_partitions'] = [ordered]@{ value = $partitions }
} catch { $sections['vm_gpu_partitions'] = Get-HvlmProblem $_ }

# -- partitionable_gpus: Get-VMHostPartitionableGpu (Windows Server 2022 and later; where it does not exist
# the host offers no GPU partition: an empty list). Name is the GPU's device instance path. ----------------
try {
    $gpus = @()
    if (Get-Command -Name 'Get-VMHostPartitionableGpu' -ErrorAction 'SilentlyContinue') {
        $gpus = @(foreach ($gpu in @(Get-VMHostPartitionableGpu)) {
            [ordered]@{
                Name = [string]$gpu.Name
                PartitionCount = [int]$gpu.PartitionCount
                ValidPartitionCounts = @(foreach ($n in @($gpu.ValidPartitionCounts)) { [int]$n })
                TotalVRAM = $gpu.TotalVRAM
                AvailableVRAM = $gpu.AvailableVRAM
            }
        })
    }
    $sections['partitionable_gpus'] = [ordered]@{ value = $gpus }
} catch { $sections['partitionable_gpus'] = Get-HvlmProblem $_ }

# -- the document ------------------------------------------------------------------------------------
$fqdn = [string]$env:COMPUTERNAME
try {
    $ipProperties = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
    $fqdn = $ipProperties.HostName
    if ($ipProperties.DomainName) { $fqdn = '{0}.{1}' -f $ipProperties.HostName, $ipProperties.DomainName }
} catch { $fqdn = [string]$env:COMPUTERNAME }
$document = [ordered]@{
    hvlm_probe = $HvlmProbeVersion
    computer = [ordered]@{ name = [string]$env:COMPUTERNAME; fqdn = ([string]$fqdn).ToLowerInvariant() }
    powershell = [ordered]@{ version = $PSVersionTable.PSVersion.ToString(); edition = [string]$PSVersionTable.PSEdition }
    collected_at = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
    sections = $sections
}
# Every non-ASCII character as a \uXXXX escape, so the document survives any code page on its way:
# powershell.exe's output piped to Out-File is decoded with the console's OEM code page, which has
# no letters for most Cyrillic, Greek or CJK VM and switch names. Where the session cannot run it
# (a constrained language mode), the document goes out unescaped, as before.
$json = ConvertTo-Json -InputObject $document -Depth 16 -Compress
$escaped = $null
try {
    $escaped = [regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
} catch { $escaped = $null }
if ($escaped) { $escaped } else { $json }
