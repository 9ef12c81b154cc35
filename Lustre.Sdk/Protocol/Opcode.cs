namespace Lustre.Protocol;

/// <summary>Every operation of the protocol. Values are part of the wire format: never renumber.</summary>
internal enum Opcode : ushort
{
    None = 0,

    // Connection (any role).
    Connect = 1,
    Auth = 2,
    Ping = 3,

    // Parameters (any server: each answers for its own parameter tree, as lctl on that node).

    /// <summary>Reads or lists parameters of the server's tree by pattern (<c>GetParamRequest</c>): <c>lctl get_param</c>, <c>list_param</c>.</summary>
    GetParam = 4,

    /// <summary>Changes parameters of the server's tree (<c>SetParamRequest</c>): <c>lctl set_param</c>.</summary>
    SetParam = 5,

    // Management service.
    MgsRegisterTarget = 10,
    MgsGetConfig = 11,
    MgsSetTargetState = 12,

    /// <summary>Creates, fills, empties or destroys an OST pool (<c>PoolRequest</c>): Lustre's <c>lctl pool_new/pool_add/pool_remove/pool_destroy</c>.</summary>
    MgsPool = 13,

    /// <summary>The persistent parameters (<c>MgsParamsRequest</c>): <c>lctl set_param -P</c> stores one, servers and clients list them at start.</summary>
    MgsParams = 15,

    // Metadata service.
    MdsGetAttr = 20,
    MdsOpen = 21,
    MdsSetAttr = 22,
    MdsReadDir = 23,
    MdsMkdir = 24,
    MdsRmdir = 25,
    MdsUnlink = 26,
    MdsRename = 27,
    MdsStatFs = 28,
    MdsSetDirLayout = 29,
    MdsClose = 30,
    MdsBackup = 31,

    /// <summary>A client leaving cleanly: the MDT drops its reply records (Lustre's MDS_DISCONNECT).</summary>
    MdsDisconnect = 32,

    /// <summary>Changes a file's mirrors (<c>MirrorRequest</c>): stale after a failed write, in sync after a resync, split, extend.</summary>
    MdsMirror = 33,

    /// <summary>Fresh OST capabilities for an open file (<c>CapabilityRequest</c>), its permission checked again.</summary>
    MdsCapability = 34,

    /// <summary>A directory page with every entry's attributes and layout (<c>ReadDirPlusRequest</c>): readdir-plus, for ls -l, lfs find and listings with attributes.</summary>
    MdsReadDirPlus = 35,

    /// <summary>The attributes of many paths (<c>GetAttrBatchRequest</c>), each answered on its own; with the Read flag each file is opened for reading.</summary>
    MdsGetAttrBatch = 36,

    /// <summary>A step of a layout migration (<c>MigrateRequest</c>): begin, renew, swap the layouts keeping the FID, abort.</summary>
    MdsMigrate = 37,

    /// <summary>
    /// Changes the components of a file's layout (<c>LayoutRequest</c>): instantiates those a write or truncate reaches
    /// (Lustre's layout intent write), appends components (<c>lfs setstripe --comp-add</c>), deletes them (<c>--comp-del</c>).
    /// </summary>
    MdsLayout = 38,

    /// <summary>Opens many files of one directory for reading in one request (<c>OpenBatchRequest</c>): one status and attributes per name.</summary>
    MdsOpenBatch = 39,

    // Object storage targets.
    OstRead = 40,
    OstWrite = 41,
    OstPunch = 42,
    OstSync = 43,
    OstGetAttr = 44,
    OstDestroy = 45,
    OstStatFs = 46,

    /// <summary>Destroys many objects of one OST (<c>OstDestroyObjectsRequest</c>): the MDS's destroy queue.</summary>
    OstDestroyObjects = 47,

    /// <summary>Reads many ranges of objects of one OST in one request (<c>OstReadBatchRequest</c>): the reply's bulk is the ranges back to back.</summary>
    OstReadBatch = 48,

    // Metadata service, continued: 20-39 are all taken.

    /// <summary>Reads bytes of a file's Data-on-MDT component (<c>DomReadRequest</c>): the reply's bulk is the bytes, as an <see cref="OstRead"/>'s.</summary>
    MdsDomRead = 60,

    /// <summary>
    /// Writes the request's bulk into a file's Data-on-MDT component (<c>DomWriteRequest</c>): the bytes, the file's new
    /// size and mtime go in one MDT batch, durable with its group commit before the reply.
    /// </summary>
    MdsDomWrite = 61,

    /// <summary>
    /// Reads bytes of many files' Data-on-MDT components in one request (<c>DomReadBatchRequest</c>): the reply's bulk is
    /// the ranges back to back, each exactly its length (zeros past a file's bytes), as an <see cref="OstReadBatch"/>'s.
    /// </summary>
    MdsDomReadBatch = 62,

    /// <summary>
    /// Ends a statahead lease early (<c>StatAheadReleaseRequest</c>): the client has used or dropped every answer it
    /// covered, so changes on the MDT need not wait for it. An unknown or ended lease is no error.
    /// </summary>
    MdsStatAheadRelease = 63,
}

internal static class OpcodeExtensions
{
    /// <summary>1–9 are answered by every server, whatever its roles (connection, parameters).</summary>
    public static bool IsAnyServer(this Opcode opcode) => opcode is > Opcode.None and < Opcode.MgsRegisterTarget;

    /// <summary>10–19 are the MGS's (the values below <see cref="Opcode.MdsGetAttr"/>).</summary>
    public static bool IsMgs(this Opcode opcode) => opcode is >= Opcode.MgsRegisterTarget and < Opcode.MdsGetAttr;

    /// <summary>20–39 (the values below <see cref="Opcode.OstRead"/>) and 60–69 are the MDS's.</summary>
    public static bool IsMds(this Opcode opcode) => opcode is (>= Opcode.MdsGetAttr and < Opcode.OstRead) or (>= Opcode.MdsDomRead and <= LastMds);

    /// <summary>The last value of the MDS's second range, 60–69.</summary>
    private const Opcode LastMds = (Opcode)69;

    public static bool IsOst(this Opcode opcode) => opcode is >= Opcode.OstRead and <= Opcode.OstReadBatch;

    /// <summary>
    /// Requests that change a file's bytes, size or name. Once sent, one is not abandoned when its caller cancels: the
    /// caller waits for its reply and gets the server's outcome, so the request is never applied after the call has
    /// returned, where it could overtake a later request to the same bytes or name (an OST runs many requests of a target
    /// at once, and a client spreads them over several connections). Cancelling stops what is not sent yet. Every other
    /// request (reads, stats, listings, syncs) is abandoned at once: its late reply changes nothing.
    /// </summary>
    public static bool IsWaitedForWhenCancelled(this Opcode opcode) => opcode is
        Opcode.OstWrite or Opcode.OstPunch or Opcode.MdsOpen or Opcode.MdsSetAttr or Opcode.MdsMkdir or Opcode.MdsRmdir or
        Opcode.MdsUnlink or Opcode.MdsRename or Opcode.MdsSetDirLayout or Opcode.MdsClose or Opcode.MdsMirror or Opcode.MdsMigrate or Opcode.MdsLayout or
        Opcode.MdsDomWrite or Opcode.SetParam or Opcode.MgsParams or Opcode.MgsPool or Opcode.MgsSetTargetState;

    /// <summary>Operations that change state, whose resends are answered from the reply cache.</summary>
    public static bool IsModifying(this Opcode opcode) => opcode is
        Opcode.MdsOpen or Opcode.MdsSetAttr or Opcode.MdsMkdir or Opcode.MdsRmdir or Opcode.MdsUnlink or
        Opcode.MdsRename or Opcode.MdsSetDirLayout or Opcode.MdsClose or Opcode.MdsBackup or Opcode.MdsMirror or Opcode.MdsMigrate or Opcode.MdsLayout or Opcode.MdsDomWrite or
        Opcode.MgsRegisterTarget or Opcode.MgsSetTargetState or Opcode.MgsPool or Opcode.MgsParams or Opcode.SetParam;
}
