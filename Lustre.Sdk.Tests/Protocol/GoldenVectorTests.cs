using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Tests.Protocol;

/// <summary>
/// The byte vectors published in docs/protocol.md, encoded with the real codec. If one of these fails,
/// either the wire format changed (update the spec, and think about the version) or the codec broke.
/// </summary>
public class GoldenVectorTests
{
    public const string ClientUuid = "6f2c1a4e-8b3d-4e5f-9a7b-0c1d2e3f4a5b";

    public const string ConnectRequestHex = """
        4c 53 54 52 01 00 01 00 00 00 00 00 00 00 00 00
        08 07 06 05 04 03 02 01 30 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 01 00 03 00 00 00 00 00
        00 00 24 00 36 66 32 63 31 61 34 65 2d 38 62 33
        64 2d 34 65 35 66 2d 39 61 37 62 2d 30 63 31 64
        32 65 33 66 34 61 35 62
        """;

    public const string PingRequestHex = """
        4c 53 54 52 01 00 03 00 00 00 00 00 00 00 00 00
        02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00
        """;

    public const string TracedPingRequestHex = """
        4c 53 54 52 01 00 03 00 08 00 00 00 00 00 00 00
        05 00 00 00 00 00 00 00 19 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 4b f9 2f 35 77 b3 4d a6
        a3 ce 92 9d 0e 0e 47 36 00 f0 67 aa 0b a9 02 b7
        01
        """;

    /// <summary>The W3C Trace Context specification's example trace and parent ids.</summary>
    private const string TraceIdHex = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SpanIdHex = "00f067aa0ba902b7";

    public const string ErrorReplyHex = """
        4c 53 54 52 01 00 14 00 01 00 00 00 02 00 00 00
        03 00 00 00 00 00 00 00 0e 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 0c 00 6e 6f 20 73 75 63
        68 20 66 69 6c 65
        """;

    public const string OstWriteRequestHex = """
        4c 53 54 52 01 00 29 00 00 00 00 00 00 00 00 00
        04 00 00 00 00 00 00 00 14 00 00 00 04 00 00 00
        90 98 a8 53 6f a9 97 64 01 00 00 00 10 00 00 00
        00 00 00 00 00 10 00 00 00 00 00 00 61 62 63 64
        """;

    public const string AuthProofHex = """
        a5 83 f8 14 ef 1b e8 ff a1 36 bd 09 71 53 ba bb
        5b ef bd 33 ca 38 13 7b c5 60 14 0a 8e a2 e8 14
        """;

    /// <summary>XXH3-64 (seed 0) of the ASCII bytes "abcd".</summary>
    public const ulong AbcdChecksum = 0x6497a96f53a89890;

    [Fact]
    public void Connect_request_frame_matches_the_spec()
    {
        using var frame = FrameBuffer.Rent();
        new ConnectRequest(1, ProtocolFeatures.BulkChecksumXxh3 | ProtocolFeatures.ReplyReconstruction, ClientUuid).Write(frame.Body);
        frame.SetHeader(new FrameHeader(Opcode.Connect, FrameFlags.None, 0, 0x0102030405060708, frame.BodyLength, 0, 0));

        Assert.Equal(Hex(ConnectRequestHex), Convert.ToHexStringLower(frame.Written.Span));
    }

    [Fact]
    public void Ping_request_header_matches_the_spec()
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 2, 0, 0, 0).Write(bytes);

        Assert.Equal(Hex(PingRequestHex), Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void Ping_request_with_a_trace_context_matches_the_spec()
    {
        using var frame = FrameBuffer.Rent();
        TraceContext.Write(frame.GetSpan(TraceContext.Size), ActivityTraceId.CreateFromString(TraceIdHex), ActivitySpanId.CreateFromString(SpanIdHex), ActivityTraceFlags.Recorded);
        frame.Advance(TraceContext.Size);
        frame.SetHeader(new FrameHeader(Opcode.Ping, FrameFlags.TraceContext, 0, 5, frame.BodyLength, 0, 0));

        Assert.Equal(Hex(TracedPingRequestHex), Convert.ToHexStringLower(frame.Written.Span));
    }

    [Fact]
    public void Trace_context_vector_decodes_to_the_parent_span_and_an_empty_body()
    {
        var bytes = Convert.FromHexString(Hex(TracedPingRequestHex));
        Assert.Equal(FrameError.None, FrameHeader.TryRead(bytes, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header));
        var request = RpcRequest.Rent(null, header, bytes[FrameHeader.Size..], ClientUuid, replyBulkChecksummed: false, key: null);

        Assert.False(request.MalformedTraceContext);
        Assert.Equal(0, request.Body.Length);
        Assert.Equal(TraceIdHex, request.TraceParent.TraceId.ToHexString());
        Assert.Equal(SpanIdHex, request.TraceParent.SpanId.ToHexString());
        Assert.Equal(ActivityTraceFlags.Recorded, request.TraceParent.TraceFlags);
        Assert.True(request.TraceParent.IsRemote);
    }

    [Fact]
    public void Trace_context_flag_on_a_body_shorter_than_the_context_is_malformed()
    {
        var header = new FrameHeader(Opcode.Ping, FrameFlags.TraceContext, 0, 6, TraceContext.Size - 1, 0, 0);
        var request = RpcRequest.Rent(null, header, new byte[TraceContext.Size - 1], ClientUuid, replyBulkChecksummed: false, key: null);

        Assert.True(request.MalformedTraceContext);
        Assert.Equal(default, request.TraceParent);
    }

    [Fact]
    public void Error_reply_frame_as_the_server_builds_it_matches_the_spec()
    {
        var response = RpcResponse.Error(LustreErrno.ENOENT, "no such file");
        using var frame = response.Body!;
        frame.SetHeader(new FrameHeader(Opcode.MdsGetAttr, FrameFlags.Reply, response.Status, 3, frame.BodyLength, 0, 0));

        Assert.Equal(Hex(ErrorReplyHex), Convert.ToHexStringLower(frame.Written.Span));
    }

    [Fact]
    public void Error_reply_vector_decodes_to_its_status_and_message()
    {
        var bytes = Convert.FromHexString(Hex(ErrorReplyHex));
        Assert.Equal(FrameError.None, FrameHeader.TryRead(bytes, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header));
        var body = bytes[FrameHeader.Size..];
        var reply = new RpcReply(header.Status, body, header.BodyLength, 0);

        Assert.True(header.IsReply);
        Assert.Equal((int)LustreErrno.ENOENT, header.Status);
        Assert.Equal("no such file", reply.ErrorMessage);
    }

    [Fact]
    public void Bulk_checksum_is_xxh3_64_of_the_bulk_bytes()
    {
        Assert.Equal(AbcdChecksum, BulkChecksum.Compute("abcd"u8));
    }

    [Fact]
    public void Bulk_checksum_of_no_bytes_is_zero()
    {
        Assert.Equal(0UL, BulkChecksum.Compute([]));
    }

    [Fact]
    public void OstWrite_request_frame_with_inline_bulk_matches_the_spec()
    {
        var bulk = "abcd"u8;
        using var frame = FrameBuffer.Rent();
        new OstWriteRequest(new ObjectRef(1, 0x10), 4096).Write(frame.Body);
        frame.SetHeader(new FrameHeader(Opcode.OstWrite, FrameFlags.None, 0, 4, frame.BodyLength, bulk.Length, BulkChecksum.Compute(bulk)));
        frame.Append(bulk);

        Assert.Equal(Hex(OstWriteRequestHex), Convert.ToHexStringLower(frame.Written.Span));
    }

    [Fact]
    public void Auth_proof_is_hmac_sha256_of_nonce_then_uuid()
    {
        var nonce = new byte[ConnectReply.NonceLength];
        for (var i = 0; i < nonce.Length; i++)
        {
            nonce[i] = (byte)i;
        }

        var proof = AuthProof.Compute("correct horse battery staple"u8, nonce, ClientUuid);

        Assert.Equal(Hex(AuthProofHex), Convert.ToHexStringLower(proof));
    }

    [Theory]
    [InlineData("connect-request", ConnectRequestHex)]
    [InlineData("ping-request", PingRequestHex)]
    [InlineData("traced-ping-request", TracedPingRequestHex)]
    [InlineData("error-reply", ErrorReplyHex)]
    [InlineData("ostwrite-request", OstWriteRequestHex)]
    [InlineData("auth-proof", AuthProofHex)]
    public void Protocol_doc_publishes_the_same_vector(string name, string hex)
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "protocol.md"), Encoding.UTF8);
        var match = Regex.Match(doc, $@"<!-- golden:{Regex.Escape(name)} -->\s*```text\n(?<hex>.*?)```", RegexOptions.Singleline);

        Assert.True(match.Success, $"docs/protocol.md has no golden vector named '{name}'.");
        Assert.Equal(Hex(hex), Hex(match.Groups["hex"].Value));
    }

    [Fact]
    public void Protocol_doc_lists_every_opcode_with_its_value()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "protocol.md"), Encoding.UTF8);

        var missing = Enum.GetValues<Opcode>()
            .Where(o => o != Opcode.None && !doc.Contains($"| {(int)o} | `{o}` |", StringComparison.Ordinal))
            .ToList();

        Assert.True(missing.Count == 0, $"docs/protocol.md §11 lacks rows for {string.Join(", ", missing)}");
    }

    private static string Hex(string spaced) => Regex.Replace(spaced, @"\s+", string.Empty);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lustre.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Lustre.slnx above {AppContext.BaseDirectory}.");
    }
}
