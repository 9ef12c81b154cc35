using System.Text;
using Lustre.Client;
using Lustre.Parameters;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Cli;

/// <summary>
/// Where <c>lctl get_param</c>, <c>set_param</c> and <c>list_param</c> look: this process's own client tree first (the
/// command line is a client, as lctl on a client node sees that node), then every server of the cluster, each once (the
/// MGS, and the server of each target), over <c>GetParam</c> and <c>SetParam</c>. Lustre's lctl sees one node; this
/// sees them all, as <c>pdsh -a lctl get_param</c> would.
/// </summary>
internal sealed class ParameterNodes
{
    private readonly LustreClient _client;

    private ParameterNodes(LustreClient client, IReadOnlyList<ParameterNode> servers)
    {
        _client = client;
        Servers = servers;
    }

    /// <summary>The servers, each with a target it serves (the MGS alone when it serves none).</summary>
    public IReadOnlyList<ParameterNode> Servers { get; }

    /// <summary>This process's client tree.</summary>
    public ParameterTree Local => _client.Session.Parameters.Tree;

    public static ParameterNodes Of(LustreClient client)
    {
        var targets = client.Session.Targets;
        var config = targets.Config;
        var servers = new List<ParameterNode>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var mgs in targets.MgsAddresses)
        {
            // An MGS that also serves a target is reached as that target's server.
            if (!config.Targets.Any(t => t.Address == mgs) && seen.Add(mgs))
            {
                servers.Add(new ParameterNode($"MGS at {mgs}", null, 0));
            }
        }

        foreach (var target in config.Targets.OrderBy(t => t.Kind).ThenBy(t => t.Index))
        {
            if (seen.Add(target.Address))
            {
                var name = target.Kind == TargetKind.Mdt ? TargetNames.Mdt(config.FsName) : TargetNames.Ost(config.FsName, target.Index);
                servers.Add(new ParameterNode($"{name} at {target.Address}", target.Kind, target.Index));
            }
        }

        return new ParameterNodes(client, servers);
    }

    /// <summary>The parameters a server holds that <paramref name="patterns"/> name, asked page by page.</summary>
    public async Task<List<(string Name, ParamEntryFlags Flags, string Value)>> GetAsync(ParameterNode node, GetParamFlags flags, IReadOnlyList<string> patterns, CancellationToken cancellationToken)
    {
        var found = new List<(string, ParamEntryFlags, string)>();
        var bulk = BulkPool.Shared.Rent(ProtocolLimits.MaxBulkLength);
        try
        {
            while (true)
            {
                using var frame = FrameBuffer.Rent();
                new GetParamRequest(flags, ProtocolLimits.MaxBulkLength, found.Count, patterns).Write(frame.Body);
                using var reply = await CallAsync(node, Opcode.GetParam, frame, bulk.AsMemory(0, ProtocolLimits.MaxBulkLength), cancellationToken).ConfigureAwait(false);
                var reader = reply.Reader;
                var page = GetParamReply.Read(ref reader, reply.BulkLength);
                var at = 0;
                foreach (var entry in page.Entries)
                {
                    found.Add((entry.Name, entry.Flags, Encoding.UTF8.GetString(bulk, at, entry.ValueLength)));
                    at += entry.ValueLength;
                }

                if (!page.More || page.Entries.Count == 0)
                {
                    return found;
                }
            }
        }
        finally
        {
            BulkPool.Shared.Return(bulk);
        }
    }

    /// <summary><c>set_param</c> on a server: one result per parameter each setting named.</summary>
    public async Task<IReadOnlyList<SetParamResult>> SetAsync(ParameterNode node, bool checkOnly, IReadOnlyList<(string Pattern, string Value)> settings, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        new SetParamRequest(checkOnly, settings).Write(frame.Body);
        using var reply = await CallAsync(node, Opcode.SetParam, frame, default, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        return SetParamReply.Read(ref reader).Results;
    }

    /// <summary>The MGS's persistent parameters after <paramref name="request"/> (<c>set_param -P</c>, <c>-P -d</c>, <c>llog_print params</c>).</summary>
    public async Task<IReadOnlyList<(string Pattern, string Value)>> PersistentAsync(MgsParamsRequest request, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await _client.Session.Targets.CallMgsAsync(Opcode.MgsParams, frame, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        return MgsParamsReply.Read(ref reader).Params;
    }

    private async Task<RpcReply> CallAsync(ParameterNode node, Opcode opcode, FrameBuffer frame, Memory<byte> bulkIn, CancellationToken cancellationToken)
    {
        var targets = _client.Session.Targets;
        if (node.Kind is not { } kind)
        {
            return await targets.CallMgsAsync(opcode, frame, bulkIn, cancellationToken).ConfigureAwait(false);
        }

        var reply = await targets.CallAsync(kind, node.Index, opcode, frame, default, bulkIn, cancellationToken).ConfigureAwait(false);
        if (reply.Status != 0)
        {
            using (reply)
            {
                TargetTable.ThrowIfError(reply, node.Description);
            }
        }

        return reply;
    }
}

/// <summary>A server <see cref="ParameterNodes"/> asks: reached as the server of a target (<see cref="Kind"/> null: the MGS).</summary>
internal sealed record ParameterNode(string Description, TargetKind? Kind, int Index);
