using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mds;

/// <summary>The metadata service: decodes MDS requests and answers them from the namespace.</summary>
internal sealed class MdsService : IRpcService
{
    private readonly MdtNamespace _namespace;

    public MdsService(MdtNamespace ns) => _namespace = ns;

    public bool Handles(Opcode opcode) => opcode.IsMds();

    public async ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        switch (request.Opcode)
        {
            case Opcode.MdsGetAttr:
                return Attributes(_namespace.GetAttr(PathRequest.Read(ref reader).Path));

            case Opcode.MdsOpen:
            {
                var open = OpenRequest.Read(ref reader);
                var attributes = await _namespace.OpenAsync(open).ConfigureAwait(false);
                return Attributes((open.Flags & OpenFlags.Write) != 0 ? _namespace.RegisterWriter(attributes) : attributes);
            }

            case Opcode.MdsClose:
                await _namespace.CloseAsync(CloseRequest.Read(ref reader)).ConfigureAwait(false);
                return RpcResponse.Ok();

            case Opcode.MdsSetAttr:
                return Attributes(await _namespace.SetAttrAsync(SetAttrRequest.Read(ref reader)).ConfigureAwait(false));

            case Opcode.MdsReadDir:
            {
                var readDir = ReadDirRequest.Read(ref reader);
                var page = _namespace.ReadDir(readDir.Path, readDir.Cookie, readDir.MaxEntries);
                var body = new FrameBuffer(4096);
                page.Write(body.Body);
                return RpcResponse.Ok(body);
            }

            case Opcode.MdsMkdir:
                return Attributes(await _namespace.MkdirAsync(MkdirRequest.Read(ref reader)).ConfigureAwait(false));

            case Opcode.MdsRmdir:
                await _namespace.RemoveAsync(PathRequest.Read(ref reader).Path, directory: true).ConfigureAwait(false);
                return RpcResponse.Ok();

            case Opcode.MdsUnlink:
                await _namespace.RemoveAsync(PathRequest.Read(ref reader).Path, directory: false).ConfigureAwait(false);
                return RpcResponse.Ok();

            case Opcode.MdsRename:
                await _namespace.RenameAsync(RenameRequest.Read(ref reader)).ConfigureAwait(false);
                return RpcResponse.Ok();

            case Opcode.MdsSetDirLayout:
                await _namespace.SetDirLayoutAsync(SetDirLayoutRequest.Read(ref reader)).ConfigureAwait(false);
                return RpcResponse.Ok();

            case Opcode.MdsStatFs:
            {
                var drive = new DriveInfo(Path.GetFullPath(_namespace.Store.Path));
                var keys = long.TryParse(_namespace.Store.Database.GetProperty("rocksdb.estimate-num-keys"), out var estimate) ? estimate : 0;
                var body = new FrameBuffer();
                new StatFsReply(drive.TotalSize, drive.AvailableFreeSpace, drive.TotalSize - drive.AvailableFreeSpace, keys).Write(body.Body);
                return RpcResponse.Ok(body);
            }

            case Opcode.MdsBackup:
            {
                var name = MdtBackupRequest.Read(ref reader).Name;
                if (!MdtBackupRequest.IsValidName(name))
                {
                    throw new RpcStatusException(LustreErrno.EINVAL, $"backup name '{name}' must be 1-{MdtBackupRequest.MaxNameLength} letters, digits, '.', '-' or '_', not starting with '.'");
                }

                (string Path, ulong Commit) backup;
                try
                {
                    // A checkpoint flushes the memtable and links files.
                    backup = await BlockingCall.RunAsync(static b => b.Store.Backup(b.name), (_namespace.Store, name)).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    throw new RpcStatusException(LustreErrno.EEXIST, ex.Message);
                }

                var body = new FrameBuffer(256);
                new MdtBackupReply(backup.Path, backup.Commit).Write(body.Body);
                return RpcResponse.Ok(body);
            }

            default:
                throw new RpcStatusException(LustreErrno.ENOSYS, $"{request.Opcode} is not an MDS operation");
        }
    }

    private static RpcResponse Attributes(InodeAttributes attributes)
    {
        var body = new FrameBuffer(128 + attributes.Layout.Length);
        attributes.Write(body.Body);
        return RpcResponse.Ok(body);
    }
}
