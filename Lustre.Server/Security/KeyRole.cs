using Lustre.Protocol;

namespace Lustre.Server.Security;

/// <summary>What a named key may do (Lustre's SSK key types): each key file entry has one role.</summary>
internal enum KeyRole
{
    /// <summary>Files and directories: everything but the operations below.</summary>
    Client,

    /// <summary>A server: registering targets with the MGS and destroying OST objects, plus what a client may do.</summary>
    Server,

    /// <summary>An operator: activating and deactivating targets, changing OST pools, backing up the MDT and setting parameters, plus what a client may do.</summary>
    Admin,
}

/// <summary>Which role each operation needs; every other operation is open to any key.</summary>
internal static class KeyRoles
{
    /// <summary>The role <paramref name="opcode"/> needs beyond a client's, or null when a client key may send it.</summary>
    public static KeyRole? Needed(Opcode opcode) => opcode switch
    {
        // Only a server may say where a target is, or destroy objects (the MDS's destroy queue).
        Opcode.MgsRegisterTarget or Opcode.OstDestroy or Opcode.OstDestroyObjects => KeyRole.Server,

        // Only an operator takes targets in and out of service, changes OST pools, copies the MDT or changes a
        // server's parameters (MgsParams checks its own changes: listing them is open to every key).
        Opcode.MgsSetTargetState or Opcode.MgsPool or Opcode.MdsBackup or Opcode.SetParam => KeyRole.Admin,
        _ => null,
    };
}
