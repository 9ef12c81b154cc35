using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;
using Lustre.Tests.Rpc;
using Xunit.Abstractions;

namespace Lustre.Tests.Reliability;

/// <summary>
/// Crash consistency: servers run as child processes; clients create, write + flush, rename and unlink while the MDS
/// or an OSS is killed with SIGKILL at a random moment and restarted (usually on its port, sometimes on a new one).
/// After each crash every acknowledged operation is checked against a model (docs/consistency.md: metadata when
/// the call returned, data when FlushAsync returned); an operation that failed may or may not have happened, but
/// only whole: a rename is at its source or its destination, never both or neither. Unlinked files' objects must
/// be destroyed without help. Files are plain, striped or Data-on-MDT (their first 64 KiB or 1 MiB on the MDT, with or
/// without OST components after it), so acknowledged Data-on-MDT writes are checked across MDS kills. Exactly once: no call may fail with an answer that only a second application of one
/// request explains (EEXIST for a fresh name, ENOENT for a name the model knows is there), which is what a resend
/// applied again after the restart answers. Before each MDS kill, a proxy in front of the MDS loses the reply of one
/// committed change, so that change's resend reaches the restarted MDS. Role <c>oss-mirrored</c> mirrors every file
/// twice (FLR) on three OSSes and kills one for good: the workers go on and every acknowledged byte is checked while it
/// is down, then it returns, every file is resynced and its mirrors verified identical. CI runs a few iterations per role; the full run:
/// <c>LUSTRE_CRASH_ITERATIONS=100 dotnet test Lustre.Sdk.Tests --filter CrashConsistency</c> (100 per role).
/// </summary>
public sealed class CrashConsistencyTests : IDisposable
{
    private const int Workers = 2;
    private readonly TempFolder _data = new("lustre-crash-");
    private readonly ITestOutputHelper _output;

    public CrashConsistencyTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _data.Dispose();

    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_CRASH_ITERATIONS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 3;

    private static int BaseSeed => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_CRASH_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261127;

    [Theory]
    [InlineData("mds")]
    [InlineData("oss")]
    [InlineData("oss-mirrored")]
    public async Task Acknowledged_operations_survive_SIGKILL_of_a_server_at_random_moments(string role)
    {
        var mirrored = role == "oss-mirrored";
        var seed = BaseSeed + role switch { "mds" => 0, "oss" => 1_000_003, _ => 2_000_006 };
        var random = new Random(seed);
        var stats = new CrashStats();
        // For the MDS, clients reach it through a proxy that can lose a reply just before the MDS is killed.
        await using var front = role == "mds" ? new FrameProxy() : null;
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, mirrored ? 3 : 2, front);
        var options = new LustreClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            RequestTimeout = TimeSpan.FromSeconds(10),
            MaxAttempts = 8,
            MaxBulkSize = 1 << 20,
        };
        await using var client = new LustreClient(cluster.Address, options);

        // A second client gives up quickly, so some of its operations fail in flight and their outcomes must be settled.
        await using var fragile = new LustreClient(cluster.Address, new LustreClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxAttempts = 2,
            MaxBulkSize = 1 << 20,
        });
        LustreClient[] clients = [client, fragile];
        var models = new WorkerModel[Workers];
        for (var w = 0; w < Workers; w++)
        {
            models[w] = new WorkerModel($"/w{w}", seed * 31 + w, mirrored);
            await client.CreateDirectoryAsync(models[w].Root);
        }

        var iteration = 0;
        int? dead = null;
        try
        {
            for (; iteration < Iterations; iteration++)
            {
                using var stop = new CancellationTokenSource();
                var workers = models.Select((m, w) => RunWorkerAsync(clients[w % clients.Length], m, stats, stop.Token)).ToArray();

                await Task.Delay(random.Next(100, 1500));
                var samePort = random.Next(4) != 0;
                if (role == "mds")
                {
                    await LoseOneReplyAsync(front!, stats);
                    await cluster.KillMdsAsync();
                    await cluster.RestartMdsAsync(samePort);
                }
                else if (!mirrored)
                {
                    var index = random.Next(cluster.OstCount);
                    await cluster.KillOssAsync(index);
                    await cluster.RestartOssAsync(index, samePort);
                }
                else
                {
                    // Gone for good while the workers go on and while every acknowledged byte is checked.
                    dead = random.Next(cluster.OstCount);
                    await cluster.KillOssAsync(dead.Value);
                }

                await Task.Delay(random.Next(100, 500) + (mirrored ? 1000 : 0));
                await stop.CancelAsync();
                await Task.WhenAll(workers);

                foreach (var model in models)
                {
                    await model.VerifyAsync(client, stats);
                }

                if (dead is { } gone)
                {
                    // While the OSS is away nothing can resync: count the mirrors the workers' writes left stale.
                    foreach (var path in models.SelectMany(m => m.Files))
                    {
                        stats.Resync((await client.GetInfoAsync(path)).Layout!.Mirrors.Count(m => m.IsStale));
                    }

                    await cluster.RestartOssAsync(gone, samePort);
                    dead = null;
                    await ResyncAndVerifyMirrorsAsync(client, models);
                }

                var verified = System.Diagnostics.Stopwatch.StartNew();
                await AssertNoOrphansAsync(client, cluster, models);
                _output.WriteLine($"iteration {iteration}: {(samePort ? "same" : "new")} port, orphans settled in {verified.ElapsedMilliseconds} ms");
            }
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"crash iteration {iteration} of role {role}, seed {seed} (LUSTRE_CRASH_SEED={BaseSeed}) failed: {ex.Message}\n{cluster.Output}", ex);
        }

        _output.WriteLine($"{role}: {Iterations} SIGKILL iterations, seed {seed}: {stats}");
        Assert.True(stats.Acknowledged > 0, "no operation was acknowledged: the harness checked nothing");
        Assert.True(role != "mds" || stats.Lost > 0, "no reply was lost before a kill: the exactly-once path was not exercised");
        Assert.True(stats.WrongAnswers.IsEmpty, $"answers only a second application explains: {string.Join("; ", stats.WrongAnswers)}");
        Assert.True(!mirrored || stats.Resynced > 0, "no mirror went stale while an OSS was down: the mirrored path was not exercised");
        Assert.True(mirrored || stats.DataOnMdtFiles > 0, "no Data-on-MDT file was acknowledged: the DoM path was not exercised");
    }

    /// <summary>Every file's stale mirrors copied back (by this client, or by the MDS's agent first), then all mirrors compared: identical, none stale.</summary>
    private static async Task ResyncAndVerifyMirrorsAsync(LustreClient client, WorkerModel[] models)
    {
        foreach (var path in models.SelectMany(m => m.Files))
        {
            await client.ResyncMirrorsAsync(path);
            var verify = await client.VerifyMirrorsAsync(path);
            Assert.True(verify.IsConsistent, $"{path}: mirrors differ after the resync: {string.Join("; ", verify.Differences)}");
            Assert.All((await client.GetInfoAsync(path)).Layout!.Mirrors, m => Assert.False(m.IsStale, $"{path}: mirror {m.Id} still stale"));
        }
    }

    /// <summary>
    /// Lets the next successful reply to a modifying request vanish on its way back, and from that moment forwards
    /// nothing to the MDS, so the client's resend can only reach the MDS that starts after the kill: the lost reply
    /// of a committed change, then a restart, then the resend. Waits up to 2 s for such a reply.
    /// </summary>
    private static async Task LoseOneReplyAsync(FrameProxy front, CrashStats stats)
    {
        var before = front.DroppedReplies.Count;
        var armed = 1;
        front.DropReply = header =>
        {
            if (header.Status != 0 || !header.Opcode.IsModifying() || Interlocked.Exchange(ref armed, 0) != 1)
            {
                return false;
            }

            front.Upstream = null;
            return true;
        };
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (front.DroppedReplies.Count == before && waited.Elapsed < TimeSpan.FromSeconds(2))
        {
            await Task.Delay(2);
        }

        front.DropReply = null;
        front.Upstream = null;
        stats.LostReplies(front.DroppedReplies.Count - before);
    }

    private static async Task RunWorkerAsync(LustreClient client, WorkerModel model, CrashStats stats, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await model.StepAsync(client, stats);
        }
    }

    /// <summary>Every object file on the OSTs belongs to a file in the namespace once the MDS destroy queue has run.</summary>
    private static async Task AssertNoOrphansAsync(LustreClient client, ProcessCluster cluster, WorkerModel[] models)
    {
        var referenced = new HashSet<(int, ulong)>();
        foreach (var model in models)
        {
            foreach (var path in model.Files)
            {
                var info = await client.GetInfoAsync(path);
                foreach (var obj in info.Layout!.AllObjects())
                {
                    referenced.Add((obj.OstIndex, obj.ObjectId));
                }
            }
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var orphans = cluster.ObjectFiles().Where(o => !referenced.Contains(o)).ToList();
            if (orphans.Count == 0)
            {
                return;
            }

            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"{orphans.Count} orphan objects left on the OSTs 30 s after the crash: {string.Join(", ", orphans.Take(10))}");
            }

            await Task.Delay(200);
        }
    }

    internal sealed class CrashStats
    {
        private long _acknowledged;
        private long _failed;
        private long _verified;
        private long _lost;
        private long _resynced;
        private long _dataOnMdt;

        public long Resynced => Interlocked.Read(ref _resynced);

        /// <summary>Acknowledged creates of files with a Data-on-MDT component.</summary>
        public long DataOnMdtFiles => Interlocked.Read(ref _dataOnMdt);

        public void DataOnMdt() => Interlocked.Increment(ref _dataOnMdt);

        public void Resync(int mirrors) => Interlocked.Add(ref _resynced, mirrors);

        public long Acknowledged => Interlocked.Read(ref _acknowledged);

        public void Ack() => Interlocked.Increment(ref _acknowledged);

        public void Fail() => Interlocked.Increment(ref _failed);

        public void Verified() => Interlocked.Increment(ref _verified);

        public long Lost => Interlocked.Read(ref _lost);

        public void LostReplies(int count) => Interlocked.Add(ref _lost, count);

        /// <summary>Failures whose errno only a request applied twice explains.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<string> WrongAnswers { get; } = new();

        public override string ToString() =>
            $"{Acknowledged} operations acknowledged, {Interlocked.Read(ref _failed)} failed in flight (uncertain), {Interlocked.Read(ref _verified)} checks passed, {Lost} replies lost before a kill, {Resynced} mirrors stale while an OSS was down, then resynced, {DataOnMdtFiles} Data-on-MDT files, {WrongAnswers.Count} wrong answers";
    }

    /// <summary>
    /// One worker's directory and what must be in it: files (with their content key, length and the length their layout
    /// cannot grow past) and subdirectories, plus the operations that failed and so may or may not have happened.
    /// </summary>
    internal sealed class WorkerModel(string root, int seed, bool mirrored = false)
    {
        private readonly Random _random = new(seed);
        private readonly Dictionary<string, (long Key, int Length, int Limit)> _files = [];
        private readonly HashSet<string> _dirs = [];
        private readonly List<Func<LustreClient, Task>> _uncertain = [];
        private long _nextKey = (long)seed << 20;
        private int _nextName;

        public string Root { get; } = root;

        public IEnumerable<string> Files => _files.Keys;

        /// <summary>Deterministic content of a file made with <paramref name="key"/>.</summary>
        public static void Fill(Span<byte> destination, long key)
        {
            for (var i = 0; i < destination.Length; i++)
            {
                var x = (ulong)(key * 0x10001 + i) * 0x9E3779B97F4A7C15UL;
                destination[i] = (byte)(x >> 56 ^ x >> 24);
            }
        }

        private string NewName(string kind) => $"{Root}/{kind}{_nextName++}";

        private string? PickFile() => _files.Count == 0 ? null : _files.Keys.ElementAt(_random.Next(_files.Count));

        public async Task StepAsync(LustreClient client, CrashStats stats)
        {
            var choice = _random.Next(100);
            if (_files.Count > 24)
            {
                choice = 70; // unlink: keep the namespace (and verification) small
            }

            try
            {
                if (choice < 40 || _files.Count < 2)
                {
                    await CreateAsync(client, stats);
                }
                else if (choice < 60)
                {
                    await RenameAsync(client, stats);
                }
                else if (choice < 80)
                {
                    await UnlinkAsync(client, stats);
                }
                else if (choice < 90)
                {
                    await MkdirAsync(client, stats);
                }
                else
                {
                    await AppendAsync(client, stats);
                }
            }
            catch (IOException ex)
            {
                // The operation's outcome was registered as uncertain before the call.
                stats.Fail();
                if (ex is FileNotFoundException or LustreException { Errno: Lustre.Protocol.LustreErrno.EEXIST or Lustre.Protocol.LustreErrno.ENOENT })
                {
                    // Every name this worker creates is new, and it only renames, appends to or unlinks files it knows
                    // are there (it is their only writer): EEXIST or ENOENT means one request was applied twice.
                    stats.WrongAnswers.Enqueue($"{Root}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }

        private async Task CreateAsync(LustreClient client, CrashStats stats)
        {
            var path = NewName("f");
            var key = ++_nextKey;
            var length = _random.Next(5) == 0 ? 0 : _random.Next(1, 3 << 20);
            var limit = int.MaxValue;
            var stripeSize = _random.Next(2) == 0 ? 64 << 10 : 1 << 20;
            var layout = FileLayout.Raid0(stripeSize, mirrored ? 1 : _random.Next(1, 3));
            if (mirrored)
            {
                layout = FileLayout.Mirrored(2, layout);
            }
            else if (_random.Next(3) == 0)
            {
                // Data-on-MDT: the first 64 KiB or 1 MiB on the MDT, then OSTs; or (one time in three) the MDT alone.
                var dom = _random.Next(2) == 0 ? 64 << 10 : 1 << 20;
                if (_random.Next(3) == 0)
                {
                    layout = FileLayout.Composite([LayoutComponent.DataOnMdt(dom)]);
                    limit = dom;
                    length = Math.Min(length, _random.Next(dom + 1));
                }
                else
                {
                    layout = FileLayout.Composite([LayoutComponent.DataOnMdt(dom), new LayoutComponent(dom, LayoutComponent.Eof, stripeSize, _random.Next(1, 3))]);
                }
            }

            Register(async c => await ResolveUnknownFileAsync(c, path));
            var data = new byte[length];
            Fill(data, key);
            if (layout.Components[0].IsOnMdt && _random.Next(2) == 0)
            {
                // Created with its bytes: one MDS commit when they fit the component, else create, write and close.
                await client.CreateFileAsync(path, data, layout);
            }
            else
            {
                var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
                try
                {
                    await file.WriteAtAsync(0, data);
                    await file.FlushAsync();
                }
                finally
                {
                    await DisposeQuietlyAsync(file);
                }
            }

            Acknowledge(stats);
            _files[path] = (key, length, limit);
            if (layout.Components[0].IsOnMdt)
            {
                stats.DataOnMdt();
            }
        }

        private async Task AppendAsync(LustreClient client, CrashStats stats)
        {
            var path = PickFile()!;
            var (key, length, limit) = _files[path];
            if (length == limit)
            {
                // A full Data-on-MDT-only file cannot grow.
                return;
            }

            var extra = _random.Next(1, (int)Math.Min(512 << 10, (long)limit - length + 1));

            // Content after a failed append is unknown (some stripes may have landed): the file is dropped then.
            _files.Remove(path);
            Register(async c => await ResolveUnknownFileAsync(c, path));
            var file = await client.OpenFileAsync(path);
            try
            {
                var data = new byte[length + extra];
                Fill(data, key);
                await file.WriteAtAsync(length, data.AsMemory(length));
                await file.FlushAsync();
            }
            finally
            {
                await DisposeQuietlyAsync(file);
            }

            Acknowledge(stats);
            _files[path] = (key, length + extra, limit);
        }

        private async Task RenameAsync(LustreClient client, CrashStats stats)
        {
            var from = PickFile()!;
            var over = _random.Next(3) == 0 ? PickFile() : null;
            var to = over is not null && over != from ? over : NewName("r");
            var moved = _files[from];
            (long, int, int)? replaced = _files.TryGetValue(to, out var old) ? old : null;
            _files.Remove(from);
            _files.Remove(to);
            Register(async c =>
            {
                // Atomic: either nothing happened, or the source is gone and the destination holds its content.
                var atSource = await TryReadAsync(c, from);
                if (atSource is not null)
                {
                    AssertContent(from, moved, atSource);
                    Assert.True(replaced is null ? !await c.ExistsAsync(to) : true, $"rename {from} -> {to} failed, yet both names exist");
                    if (replaced is { } r)
                    {
                        AssertContent(to, r, await TryReadAsync(c, to));
                        _files[to] = r;
                    }

                    _files[from] = moved;
                }
                else
                {
                    AssertContent(to, moved, await TryReadAsync(c, to));
                    _files[to] = moved;
                }
            });
            await client.RenameAsync(from, to);
            Acknowledge(stats);
            _files[to] = moved;
        }

        private async Task UnlinkAsync(LustreClient client, CrashStats stats)
        {
            var path = PickFile()!;
            var content = _files[path];
            _files.Remove(path);
            Register(async c =>
            {
                if (await TryReadAsync(c, path) is { } data)
                {
                    AssertContent(path, content, data);
                    _files[path] = content;
                }
            });
            await client.DeleteFileAsync(path);
            Acknowledge(stats);
        }

        private async Task MkdirAsync(LustreClient client, CrashStats stats)
        {
            var path = NewName("d");
            Register(async c =>
            {
                if (await c.ExistsAsync(path))
                {
                    Assert.True((await c.GetInfoAsync(path)).IsDirectory, $"{path} exists but is not a directory");
                    _dirs.Add(path);
                }
            });
            await client.CreateDirectoryAsync(path);
            Acknowledge(stats);
            _dirs.Add(path);
        }

        /// <summary>Before each call: how to settle its outcome if it fails.</summary>
        private void Register(Func<LustreClient, Task> resolve) => _uncertain.Add(resolve);

        private void Acknowledge(CrashStats stats)
        {
            _uncertain.RemoveAt(_uncertain.Count - 1);
            stats.Ack();
        }

        /// <summary>A file whose create or write failed: it may be there with any content; delete it to know where we are.</summary>
        private static async Task ResolveUnknownFileAsync(LustreClient client, string path)
        {
            if (await client.ExistsAsync(path))
            {
                Assert.False((await client.GetInfoAsync(path)).IsDirectory, $"{path} became a directory");
                await client.DeleteFileAsync(path);
            }
        }

        private static async Task DisposeQuietlyAsync(Lustre.IO.LustreFile file)
        {
            try
            {
                await file.DisposeAsync();
            }
            catch (IOException)
            {
                // Dispose flushes again after a failed flush; the failure was already reported.
            }
        }

        private static async Task<byte[]?> TryReadAsync(LustreClient client, string path)
        {
            if (!await client.ExistsAsync(path))
            {
                return null;
            }

            await using var file = await client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read);
            var data = new byte[file.Length];
            Assert.Equal(data.Length, await file.ReadAtAsync(0, data));
            return data;
        }

        private static void AssertContent(string path, (long Key, int Length, int Limit) expected, byte[]? actual)
        {
            Assert.True(actual is not null, $"{path} is missing");
            Assert.True(expected.Length == actual!.Length, $"{path}: {actual.Length} bytes, expected {expected.Length}");
            var want = new byte[expected.Length];
            Fill(want, expected.Key);
            var diff = want.AsSpan().CommonPrefixLength(actual);
            Assert.True(diff == want.Length, $"{path}: content differs from byte {diff} of {want.Length}");
        }

        /// <summary>Settles failed operations, then checks every acknowledged one and that nothing else is there.</summary>
        public async Task VerifyAsync(LustreClient client, CrashStats stats)
        {
            foreach (var resolve in _uncertain)
            {
                await resolve(client);
            }

            _uncertain.Clear();
            var listed = new SortedSet<string>(StringComparer.Ordinal);
            await foreach (var entry in client.EnumerateDirectoryAsync(Root))
            {
                listed.Add(entry.Path);
            }

            var expected = new SortedSet<string>(_files.Keys.Concat(_dirs), StringComparer.Ordinal);
            Assert.True(expected.SetEquals(listed), $"{Root} lists [{string.Join(", ", listed.Except(expected))}] not in the model and lacks [{string.Join(", ", expected.Except(listed))}]");
            foreach (var (path, content) in _files)
            {
                AssertContent(path, content, await TryReadAsync(client, path));
                stats.Verified();
            }

            foreach (var dir in _dirs)
            {
                Assert.True((await client.GetInfoAsync(dir)).IsDirectory);
                stats.Verified();
            }
        }
    }
}
