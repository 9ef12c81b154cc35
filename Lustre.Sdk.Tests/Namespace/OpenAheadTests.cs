using System.Diagnostics;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Tests.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Namespace;

/// <summary>
/// Statahead of opens for reading (issue 22, mdtest-hard-read) against a real node: opens of names that count up are
/// answered from batches the MDS leased, with the bytes of files that all live on the MDT, and a file read that way
/// never differs from what a single open would read: another client's write waits for the lease.
/// </summary>
public sealed class OpenAheadTests : IDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    private readonly TempFolder _data = new("lustre-openahead-");

    public void Dispose() => _data.Dispose();

    // As StatAheadTests: the node's background loops never tick during a test, so no commit of theirs refuses a lease.
    private Task<LustreNode> StartAsync(TimeSpan lease, TimeSpan? quiet = null) => LustreNode.StartAsync(
        new NodeOptions
        {
            DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 2,
            StatAheadLease = lease, StatAheadQuiet = quiet ?? TimeSpan.Zero, RefreshInterval = TimeSpan.FromHours(1),
        },
        NullLoggerFactory.Instance,
        CancellationToken.None);

    private static byte[] Content(int i, int length)
    {
        var bytes = new byte[length];
        new Random(i).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Files <c>file.0</c> to <c>file.{count - 1}</c> of <paramref name="dir"/>, file i of <c>size(i)</c> bytes of <see cref="Content"/>.</summary>
    private static async Task CreateAsync(LustreClient client, string dir, int count, Func<int, int> size, bool dataOnMdt)
    {
        await client.CreateDirectoryAsync(dir);
        if (dataOnMdt)
        {
            await client.SetDirectoryLayoutAsync(dir, FileLayout.Composite([LayoutComponent.DataOnMdt(64 << 10), new LayoutComponent(64 << 10, LayoutComponent.Eof, 1 << 20, 1)]));
        }

        for (var i = 0; i < count; i++)
        {
            await client.CreateFileAsync($"{dir}/file.{i}", Content(i, size(i)));
        }
    }

    private static async Task<byte[]> ReadAllAsync(LustreClient client, string path)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var bytes = new byte[file.Length];
        Assert.Equal(bytes.Length, await file.ReadAtAsync(0, bytes));
        return bytes;
    }

    [Fact]
    public async Task Opens_of_names_that_count_up_come_from_leased_batches_that_bring_the_bytes_of_Data_on_MDT_files()
    {
        await using var node = await StartAsync(Lease);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 120, i => 100 + (i * 37), dataOnMdt: true);

        using var recorder = new TelemetryRecorder();
        var target = node.Endpoint.ToString();
        for (var i = 0; i < 120; i++)
        {
            Assert.Equal(Content(i, 100 + (i * 37)), await ReadAllAsync(client, $"/d/file.{i}"));
        }

        // file.0 and file.1 alone (each read in its open's reply); file.2 opens 32 names, file.34 64, file.98 128 (past
        // the end: ENOENT each). No file's bytes were asked for on their own, from the MDT or an OST.
        Assert.Equal(2, recorder.Rpcs(target, "MdsOpen"));
        Assert.Equal(3, recorder.Rpcs(target, "MdsGetAttrBatch"));
        Assert.Equal(0, recorder.Rpcs(target, "MdsDomRead"));
        Assert.Equal(0, recorder.Rpcs(target, "OstRead"));
        var openAhead = client.Session.OpenAhead;
        Assert.Equal(120 - 2 - 3, openAhead.Hits);
        Assert.Equal(3, openAhead.Batches);
        Assert.Equal(0, client.Session.StatAhead.Hits);
        var stats = await client.GetParametersAsync("llite.*.statahead_stats");
        Assert.Contains("open_hit_total: 115", Assert.Single(stats).Value, StringComparison.Ordinal);

        // A name past the end is not found, as an open alone says.
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.OpenFileAsync("/d/file.120", FileMode.Open, FileAccess.Read));
    }

    [Fact]
    public async Task Files_whose_bytes_are_on_OSTs_or_past_what_an_open_brings_are_opened_from_the_batch_and_read_where_they_live()
    {
        await using var node = await StartAsync(Lease);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");

        // On OSTs (the filesystem's default layout), and on the MDT but larger than the 64 KiB an open brings.
        await CreateAsync(client, "/osts", 40, i => 10 + i, dataOnMdt: false);
        await client.CreateDirectoryAsync("/big");
        await client.SetDirectoryLayoutAsync("/big", FileLayout.Composite([LayoutComponent.DataOnMdt(1 << 20)]));
        for (var i = 0; i < 8; i++)
        {
            await client.CreateFileAsync($"/big/file.{i}", Content(i, (64 << 10) + 1 + i));
        }

        using var recorder = new TelemetryRecorder();
        var target = node.Endpoint.ToString();
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(Content(i, 10 + i), await ReadAllAsync(client, $"/osts/file.{i}"));
        }

        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(Content(i, (64 << 10) + 1 + i), await ReadAllAsync(client, $"/big/file.{i}"));
        }

        // Each directory: file.0 and file.1 alone, then batches from file.2 (32 names) and, in /osts, file.34 (64). Every
        // file's bytes were read where they live: the OSTs' from the OSTs, the large ones' from the MDT.
        Assert.Equal(2 + 2, recorder.Rpcs(target, "MdsOpen"));
        Assert.Equal(2 + 1, recorder.Rpcs(target, "MdsGetAttrBatch"));
        Assert.Equal(36 + 5, client.Session.OpenAhead.Hits);
        Assert.True(recorder.Rpcs(target, "OstRead") >= 40);
        Assert.True(recorder.Rpcs(target, "MdsDomRead") >= 8);
    }

    [Fact]
    public async Task A_write_by_another_client_waits_for_the_lease_and_the_next_open_reads_it()
    {
        await using var node = await StartAsync(Lease);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await using var other = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 40, i => 1000, dataOnMdt: true);
        for (var i = 0; i < 3; i++)
        {
            await ReadAllAsync(client, $"/d/file.{i}");
        }

        Assert.Equal(1, client.Session.OpenAhead.Batches);
        var leased = Stopwatch.StartNew();

        // The writer's open waits for the lease: no answer the client holds can be older than the file.
        await using (var writer = await other.OpenFileAsync("/d/file.10", FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.True(leased.Elapsed >= Lease * 0.9, $"the open for write returned {leased.Elapsed} after the lease was granted, within its {Lease}");
            await writer.WriteAtAsync(0, Content(99, 1500));
        }

        Assert.True(node.Mdt!.Leases.Waited >= 1);
        Assert.Equal(Content(99, 1500), await ReadAllAsync(client, "/d/file.10"));
    }

    [Fact]
    public async Task A_directory_among_the_names_fails_its_own_open_and_the_files_around_it_open_from_the_batch()
    {
        await using var node = await StartAsync(Lease);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 10, i => 50, dataOnMdt: true);
        await client.DeleteFileAsync("/d/file.5");
        await client.CreateDirectoryAsync("/d/file.5");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Content(i, 50), await ReadAllAsync(client, $"/d/file.{i}"));
        }

        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.OpenFileAsync("/d/file.5", FileMode.Open, FileAccess.Read));
        for (var i = 6; i < 10; i++)
        {
            Assert.Equal(Content(i, 50), await ReadAllAsync(client, $"/d/file.{i}"));
        }

        // file.3, file.4 and file.6 to file.9 from the batch file.2 opened; the directory's own open failed as a single
        // open fails.
        Assert.Equal(6, client.Session.OpenAhead.Hits);
        Assert.Equal(1, client.Session.OpenAhead.Batches);
    }

    [Fact]
    public async Task A_busy_MDT_grants_no_lease_and_each_open_still_brings_its_own_file_s_bytes()
    {
        await using var node = await StartAsync(Lease, quiet: TimeSpan.FromHours(1));
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 40, i => 200 + i, dataOnMdt: true);

        using var recorder = new TelemetryRecorder();
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(Content(i, 200 + i), await ReadAllAsync(client, $"/d/file.{i}"));
        }

        var openAhead = client.Session.OpenAhead;
        Assert.Equal(0, openAhead.Hits);
        Assert.Equal(0, openAhead.Batches);
        Assert.True(openAhead.Refused >= 1);
        Assert.Equal(0, node.Mdt!.Leases.Granted);

        // A refused batch answers the open it was sent for, with that file's bytes as a single open brings them.
        var target = node.Endpoint.ToString();
        Assert.Equal(40, recorder.Rpcs(target, "MdsOpen") + recorder.Rpcs(target, "MdsGetAttrBatch"));
        Assert.Equal(0, recorder.Rpcs(target, "MdsDomRead"));
    }

    [Fact]
    public async Task With_statahead_off_every_open_is_one_open()
    {
        await using var node = await StartAsync(Lease);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}", new LustreClientOptions { StatAheadMax = 0 });
        await CreateAsync(client, "/d", 20, i => 10, dataOnMdt: true);

        using var recorder = new TelemetryRecorder();
        for (var i = 0; i < 20; i++)
        {
            await ReadAllAsync(client, $"/d/file.{i}");
        }

        Assert.Equal(20, recorder.Rpcs(node.Endpoint.ToString(), "MdsOpen"));
        Assert.Equal(0, recorder.Rpcs(node.Endpoint.ToString(), "MdsGetAttrBatch"));
    }
}
