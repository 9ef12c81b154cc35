using System.Text;
using Lustre.Parameters;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Parameters;

/// <summary>
/// <c>GetParam</c> and <c>SetParam</c> (opcodes 4 and 5), which every server answers for its own parameter tree, as
/// <c>lctl get_param</c> and <c>set_param</c> run on that node would. A read sends values in the reply's bulk, as many
/// as fit the bulk the client made room for (at most 16 MiB) and a 960 KiB body; the client asks again for the rest.
/// Changing a parameter needs an admin key where the server holds named keys (<see cref="Security.KeyRoles"/>).
/// </summary>
internal sealed class ParamService(ParameterTree tree) : IRpcService
{
    public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
    [
        (Opcode.GetParam, Get),
        (Opcode.SetParam, Set),
    ];

    public ParameterTree Tree => tree;

    public long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body) => opcode == Opcode.GetParam ? GetParamRequest.PeekMaxBulk(body) : 0;

    private ValueTask<RpcResponse> Get(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var get = GetParamRequest.Read(ref reader);
        var namesOnly = (get.Flags & GetParamFlags.NamesOnly) != 0;
        var recursive = (get.Flags & GetParamFlags.Recursive) != 0;
        var entries = new List<ParamEntry>();
        var values = new List<byte[]>();
        var skipped = 0;
        var bodyBytes = 16;
        var bulkBytes = 0;
        var more = false;
        foreach (var pattern in get.Patterns)
        {
            foreach (var entry in tree.Match(pattern, recursive))
            {
                if (!namesOnly && entry.IsDirectory)
                {
                    // get_param prints what is a file, as lctl skips directories.
                    continue;
                }

                if (skipped < get.Skip)
                {
                    skipped++;
                    continue;
                }

                var value = namesOnly || entry.Parameter is not { } parameter ? [] : Encoding.UTF8.GetBytes(Read(parameter));
                var flags = (entry.IsDirectory ? ParamEntryFlags.Directory : 0) | (entry.Parameter is { IsWritable: true } ? ParamEntryFlags.Writable : 0);
                var record = new ParamEntry(entry.Name, flags, value.Length);
                var first = entries.Count == 0;
                if (!first && (entries.Count == GetParamReply.MaxEntries || bodyBytes + record.EncodedLength > GetParamReply.MaxBodyBytes || bulkBytes + value.Length > get.MaxBulk))
                {
                    more = true;
                    break;
                }

                if (value.Length > get.MaxBulk - bulkBytes)
                {
                    // Alone and still too large for the client's room: cut, and say so.
                    value = value[..(get.MaxBulk - bulkBytes)];
                    record = new ParamEntry(entry.Name, flags | ParamEntryFlags.Truncated, value.Length);
                }

                entries.Add(record);
                values.Add(value);
                bodyBytes += record.EncodedLength;
                bulkBytes += value.Length;
            }

            if (more)
            {
                break;
            }
        }

        var body = FrameBuffer.Rent(bodyBytes + 64);
        new GetParamReply(more, entries).Write(body.Body);
        if (bulkBytes == 0)
        {
            return ValueTask.FromResult(RpcResponse.Ok(body));
        }

        var bulk = BulkPool.Shared.Rent(bulkBytes);
        var at = 0;
        foreach (var value in values)
        {
            value.CopyTo(bulk, at);
            at += value.Length;
        }

        return ValueTask.FromResult(RpcResponse.WithBulk(body, bulk, bulkBytes));
    }

    private ValueTask<RpcResponse> Set(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var set = SetParamRequest.Read(ref reader);
        var results = new List<SetParamResult>();
        var bytes = 0;
        foreach (var (pattern, value) in set.Settings)
        {
            foreach (var result in tree.Set(pattern, value, set.CheckOnly))
            {
                if (results.Count == SetParamReply.MaxResults)
                {
                    break;
                }

                // A reply stays far under a body's limit whatever the patterns matched: messages give way first.
                var kept = bytes > GetParamReply.MaxBodyBytes / 2 ? result with { Message = string.Empty } : result;
                bytes += 16 + Encoding.UTF8.GetByteCount(kept.Name) + Encoding.UTF8.GetByteCount(kept.Message);
                results.Add(kept);
            }
        }

        var body = FrameBuffer.Rent(bytes + 64);
        new SetParamReply(results).Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    private static string Read(Parameter parameter)
    {
        try
        {
            return parameter.Read();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ParameterException or InvalidOperationException)
        {
            return $"error: {ex.Message}";
        }
    }
}
