using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Rpc;

namespace Lustre.Tests.Namespace;

/// <summary>
/// Bad paths are refused by the client before anything is sent, and refused again by the MDS when a peer
/// skips the client's checks, with a message that names the problem and nothing created.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PathValidationTests
{
    private readonly ClusterFixture _fixture;

    public PathValidationTests(ClusterFixture fixture) => _fixture = fixture;

    /// <summary>A bad path, and a word its error message must contain.</summary>
    public static TheoryData<string, string> BadPaths() => new()
    {
        { string.Empty, "empty" },
        { "relative/name", "not absolute" },
        { "/evil\0name", "NUL" },
        { "/a/../b", "'..'" },
        { "/..", "'..'" },
        { "/a/./b", "'.'" },
        { "/a//b", "//" },
        { "//a", "//" },
        { "/" + new string('x', 256), "longer than 255 bytes" },
        { "/" + new string('é', 128), "longer than 255 bytes" },
    };

    [Theory]
    [MemberData(nameof(BadPaths))]
    public async Task The_client_refuses_a_bad_path_naming_the_problem(string path, string problem)
    {
        var client = _fixture.Client;
        var before = await ListRootAsync();

        await AssertRefusedAsync(() => client.GetInfoAsync(path), "path", problem);
        await AssertRefusedAsync(() => client.CreateDirectoryAsync(path), "path", problem);
        await AssertRefusedAsync(() => client.OpenFileAsync(path, FileMode.CreateNew), "path", problem);
        await AssertRefusedAsync(() => client.DeleteFileAsync(path), "path", problem);
        await AssertRefusedAsync(() => client.RenameAsync("/nothing-" + Guid.NewGuid().ToString("N"), path), "destinationPath", problem);
        await AssertRefusedAsync(() => client.EnumerateDirectoryAsync(path).GetAsyncEnumerator().MoveNextAsync().AsTask(), "path", problem);

        Assert.Equal(before, await ListRootAsync());
    }

    [Fact]
    public async Task The_client_refuses_a_path_longer_than_4096_bytes()
    {
        var path = string.Concat(Enumerable.Repeat("/" + new string('x', 200), 21));

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Client.GetInfoAsync(path));

        Assert.Contains("4096", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_of_255_bytes_is_accepted()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var ascii = new string('x', 255);
        var multiByte = new string('é', 127) + "x";

        await (await _fixture.Client.OpenFileAsync(dir + "/" + ascii, FileMode.CreateNew)).DisposeAsync();
        await _fixture.Client.CreateDirectoryAsync(dir + "/" + multiByte);

        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(dir))
        {
            names.Add(entry.Name);
        }

        Assert.Equal(new[] { ascii, multiByte }.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task A_trailing_slash_names_the_same_entry()
    {
        var dir = await _fixture.NewDirectoryAsync();

        var info = await _fixture.Client.GetInfoAsync(dir + "/");

        Assert.Equal(dir, info.Path);
        Assert.True(info.IsDirectory);
    }

    [Fact]
    public async Task A_name_that_is_not_valid_UTF16_is_refused_instead_of_colliding_with_another()
    {
        var dir = await _fixture.NewDirectoryAsync();

        // Lone surrogates have no UTF-8 form; encoded leniently both become U+FFFD and name the same entry.
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Client.CreateDirectoryAsync(dir + "/a\uD800"));

        Assert.Equal("path", ex.ParamName);
        Assert.Empty(await ListAsync(dir));
    }

    public static TheoryData<string, LustreErrno, string> BadPathsOnTheWire() => new()
    {
        { string.Empty, LustreErrno.EINVAL, "empty" },
        { "relative", LustreErrno.EINVAL, "not absolute" },
        { "/evil\0name", LustreErrno.EINVAL, "NUL" },
        { "/x/../evil", LustreErrno.EINVAL, "'..'" },
        { "/./evil", LustreErrno.EINVAL, "'.'" },
        { "/x//evil", LustreErrno.EINVAL, "//" },
        { "/" + new string('x', 256), LustreErrno.ENAMETOOLONG, "longer than 255 bytes" },
    };

    [Theory]
    [MemberData(nameof(BadPathsOnTheWire))]
    public async Task The_mds_refuses_a_bad_path_sent_raw_and_creates_nothing(string path, LustreErrno errno, string problem)
    {
        var before = await ListRootAsync();
        await using var rpc = _fixture.RawMdsClient();

        await AssertRawRefusedAsync(rpc, Opcode.MdsGetAttr, w => new PathRequest(path).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsMkdir, w => new MkdirRequest(path, 0x1ED).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsOpen, w => new OpenRequest(path, OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, []).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsUnlink, w => new PathRequest(path).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsRmdir, w => new PathRequest(path).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsReadDir, w => new ReadDirRequest(path, string.Empty, 16).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsSetDirLayout, w => new SetDirLayoutRequest(path, []).Write(w), errno, problem);
        await AssertRawRefusedAsync(rpc, Opcode.MdsReadDirPlus, w => new ReadDirPlusRequest(path, string.Empty, 16, 4096).Write(w), errno, problem);
        foreach (var flags in new[] { OpenFlags.None, OpenFlags.Read })
        {
            // A batch answers each path on its own: the bad one is refused, the root beside it is not.
            using var frame = FrameBuffer.Rent();
            new GetAttrBatchRequest(flags, [path, "/"]).Write(frame.Body);
            using var reply = await rpc.CallAsync(Opcode.MdsGetAttrBatch, frame, default, default, CancellationToken.None);
            Assert.Equal(0, reply.Status);
            var reader = reply.Reader;
            var answers = GetAttrBatchReply.Read(ref reader).Results;
            Assert.Equal(errno, answers[0].Status);
            Assert.Contains(problem, answers[0].Message, StringComparison.Ordinal);
            Assert.Equal(flags == OpenFlags.Read ? LustreErrno.EISDIR : 0, answers[1].Status);
        }

        var dir = await _fixture.NewDirectoryAsync();
        await AssertRawRefusedAsync(rpc, Opcode.MdsRename, w => new RenameRequest(dir, path).Write(w), errno, problem);
        Assert.True(await _fixture.Client.ExistsAsync(dir));
        await _fixture.Client.DeleteDirectoryAsync(dir);

        Assert.Equal(before, await ListRootAsync());
    }

    private static async Task AssertRefusedAsync(Func<Task> call, string parameter, string problem)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(call);
        Assert.Equal(parameter, ex.ParamName);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    private static async Task AssertRawRefusedAsync(ServerCaller rpc, Opcode opcode, Action<BodyWriter> body, LustreErrno errno, string problem)
    {
        using var frame = FrameBuffer.Rent();
        body(frame.Body);
        using var reply = await rpc.CallAsync(opcode, frame, default, default, CancellationToken.None);
        Assert.True((LustreErrno)reply.Status == errno, $"{opcode}: expected {errno}, got {(LustreErrno)reply.Status}: {reply.ErrorMessage}");
        Assert.Contains(problem, reply.ErrorMessage, StringComparison.Ordinal);
    }

    private Task<List<string>> ListRootAsync() => ListAsync("/");

    private async Task<List<string>> ListAsync(string path)
    {
        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(path))
        {
            names.Add(entry.Name);
        }

        return names;
    }
}
