using System.Collections.Concurrent;
using System.Globalization;
using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// One task's share of each IO500 phase, written once against <see cref="IIo500Storage"/> so ours and the local
/// baseline run the same code. Returns the units done (bytes or operations). Every read is checked; a wrong byte
/// throws <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class Io500Phases
{
    public const string IorEasy = "ior-easy";
    public const string IorHard = "ior-hard";
    public const string MdtestEasy = "mdtest-easy";
    public const string MdtestHard = "mdtest-hard";

    private readonly Io500Settings _settings;
    private readonly TestPattern[] _easyPatterns;
    private readonly byte[][] _easyBuffers;
    private readonly RecordPattern _hardRecords;
    private readonly RecordPattern _hardFiles;

    public Io500Phases(Io500Settings settings)
    {
        _settings = settings;
        _easyPatterns = new TestPattern[settings.Tasks];
        _easyBuffers = new byte[settings.Tasks][];
        for (var t = 0; t < settings.Tasks; t++)
        {
            _easyPatterns[t] = new TestPattern(seed: 500 + t);
            _easyBuffers[t] = _easyPatterns[t].NewBuffer(settings.IorEasyTransferSize);
        }

        _hardRecords = new RecordPattern(seed: 47008, settings.IorHardRecordSize);
        _hardFiles = new RecordPattern(seed: 3901, settings.MdtestHardFileSize);
    }

    /// <summary>The top-level directories, made before the first phase (untimed); mdtest-hard's with Data-on-MDT when the settings ask for it.</summary>
    public async Task PrepareAsync(IIo500Storage storage)
    {
        foreach (var dir in (string[])[IorEasy, IorHard, MdtestEasy, MdtestHard])
        {
            await storage.CreateDirectoryAsync(dir);
        }

        if (_settings.MdtestHardDataOnMdt > 0)
        {
            await storage.KeepSmallFilesOnMdtAsync(MdtestHard, _settings.MdtestHardDataOnMdt);
        }
    }

    public Task<long> RunTaskAsync(Io500Phase phase, IIo500Storage storage, int task) => phase switch
    {
        Io500Phase.IorEasyWrite => IorEasyWriteAsync(storage, task),
        Io500Phase.IorEasyRead => IorEasyReadAsync(storage, task),
        Io500Phase.IorHardWrite => IorHardWriteAsync(storage, task),
        Io500Phase.IorHardRead => IorHardReadAsync(storage, task),
        Io500Phase.MdtestEasyWrite => MdtestEasyAsync(storage, task, phase),
        Io500Phase.MdtestEasyStat => MdtestEasyAsync(storage, task, phase),
        Io500Phase.MdtestEasyDelete => MdtestEasyAsync(storage, task, phase),
        Io500Phase.MdtestHardWrite => MdtestHardWriteAsync(storage, task),
        Io500Phase.MdtestHardRead => MdtestHardReadAsync(storage, task),
        Io500Phase.MdtestHardStat => MdtestHardAsync(storage, task, phase),
        Io500Phase.MdtestHardDelete => MdtestHardAsync(storage, task, phase),
        _ => throw new ArgumentOutOfRangeException(nameof(phase), phase, "find walks the whole tree: use FindAsync."),
    };

    private static string EasyFile(int task) => $"{IorEasy}/file.{task}";

    private static string EasyDir(int task) => $"{MdtestEasy}/task.{task}";

    private static string HardFile(int task, int i) => $"{MdtestHard}/file.{task}.{i}";

    /// <summary>IO500's reads are done by another task than the writer (ior -C, mdtest -N 1), so no client reads its own cache.</summary>
    private int Neighbour(int task) => (task + 1) % _settings.Tasks;

    private async Task<long> IorEasyWriteAsync(IIo500Storage storage, int task)
    {
        var pattern = _easyPatterns[task];
        var buffer = _easyBuffers[task];
        await using var file = await storage.OpenWriteAsync(EasyFile(task), striped: true);
        for (long offset = 0; offset < _settings.IorEasyBytesPerTask; offset += buffer.Length)
        {
            pattern.Stamp(buffer, offset);
            await file.WriteAsync(offset, buffer);
        }

        await file.FlushAsync();
        return _settings.IorEasyBytesPerTask;
    }

    private async Task<long> IorEasyReadAsync(IIo500Storage storage, int task)
    {
        var writer = Neighbour(task);
        var pattern = _easyPatterns[writer];
        var buffer = _easyBuffers[task];
        await using var file = await storage.OpenReadAsync(EasyFile(writer));
        for (long offset = 0; offset < _settings.IorEasyBytesPerTask; offset += buffer.Length)
        {
            var read = await file.ReadAsync(offset, buffer);
            if (read != buffer.Length || !pattern.Verify(buffer, offset))
            {
                throw new InvalidDataException($"{EasyFile(writer)}: the {buffer.Length} bytes at {offset} differ from what was written ({read} read).");
            }
        }

        return _settings.IorEasyBytesPerTask;
    }

    /// <summary>Record <c>segment × tasks + task</c> of the shared file: the tasks' records interleave.</summary>
    private long HardRecord(int task, int segment) => ((long)segment * _settings.Tasks) + task;

    private async Task<long> IorHardWriteAsync(IIo500Storage storage, int task)
    {
        var size = _settings.IorHardRecordSize;
        var record = new byte[size];
        _hardRecords.Fill(record, 0);
        await using var file = await storage.OpenWriteAsync($"{IorHard}/file", striped: true);
        for (var segment = 0; segment < _settings.IorHardSegmentsPerTask; segment++)
        {
            var index = HardRecord(task, segment);
            _hardRecords.Stamp(record, index);
            await file.WriteAsync(index * size, record);
        }

        await file.FlushAsync();
        return (long)_settings.IorHardSegmentsPerTask * size;
    }

    private async Task<long> IorHardReadAsync(IIo500Storage storage, int task)
    {
        var writer = Neighbour(task);
        var size = _settings.IorHardRecordSize;
        var record = new byte[size];
        await using var file = await storage.OpenReadAsync($"{IorHard}/file");
        for (var segment = 0; segment < _settings.IorHardSegmentsPerTask; segment++)
        {
            var index = HardRecord(writer, segment);
            var read = await file.ReadAsync(index * size, record);
            if (read != size || !_hardRecords.Verify(record, index))
            {
                throw new InvalidDataException($"{IorHard}/file: record {index} (task {writer}, segment {segment}) differs from what was written ({read} bytes read).");
            }
        }

        return (long)_settings.IorHardSegmentsPerTask * size;
    }

    private async Task<long> MdtestEasyAsync(IIo500Storage storage, int task, Io500Phase phase)
    {
        var dir = EasyDir(task);
        if (phase == Io500Phase.MdtestEasyWrite)
        {
            await storage.CreateDirectoryAsync(dir);
        }

        var count = _settings.MdtestEasyFilesPerTask;
        for (var i = 0; i < count; i++)
        {
            var path = $"{dir}/file.{i}";
            switch (phase)
            {
                case Io500Phase.MdtestEasyWrite:
                    await storage.CreateEmptyAsync(path);
                    break;
                case Io500Phase.MdtestEasyStat:
                    var length = await storage.StatAsync(path);
                    if (length != 0)
                    {
                        throw new InvalidDataException($"{path}: stat says {length} bytes, the file is empty.");
                    }

                    break;
                default:
                    await storage.DeleteAsync(path);
                    break;
            }
        }

        if (phase == Io500Phase.MdtestEasyDelete)
        {
            await storage.DeleteDirectoryAsync(dir);
        }

        return count;
    }

    private async Task<long> MdtestHardWriteAsync(IIo500Storage storage, int task)
    {
        var data = new byte[_settings.MdtestHardFileSize];
        _hardFiles.Fill(data, 0);
        var count = _settings.MdtestHardFilesPerTask;
        for (var i = 0; i < count; i++)
        {
            _hardFiles.Stamp(data, ((long)task * count) + i);
            await storage.CreateWithDataAsync(HardFile(task, i), data);
        }

        return count;
    }

    private async Task<long> MdtestHardReadAsync(IIo500Storage storage, int task)
    {
        var writer = Neighbour(task);
        var data = new byte[_settings.MdtestHardFileSize + 1];
        var count = _settings.MdtestHardFilesPerTask;
        for (var i = 0; i < count; i++)
        {
            var path = HardFile(writer, i);
            var read = await storage.ReadSmallAsync(path, data);
            if (read != _settings.MdtestHardFileSize || !_hardFiles.Verify(data.AsSpan(0, read), ((long)writer * count) + i))
            {
                throw new InvalidDataException($"{path}: {read} bytes read differ from the {_settings.MdtestHardFileSize} written.");
            }
        }

        return count;
    }

    private async Task<long> MdtestHardAsync(IIo500Storage storage, int task, Io500Phase phase)
    {
        var count = _settings.MdtestHardFilesPerTask;
        for (var i = 0; i < count; i++)
        {
            var path = HardFile(task, i);
            if (phase == Io500Phase.MdtestHardStat)
            {
                var length = await storage.StatAsync(path);
                if (length != _settings.MdtestHardFileSize)
                {
                    throw new InvalidDataException($"{path}: stat says {length} bytes, wrote {_settings.MdtestHardFileSize}.");
                }
            }
            else
            {
                await storage.DeleteAsync(path);
            }
        }

        return count;
    }

    /// <summary>
    /// IO500's find (<c>-name *01* -size 3901c</c>): walks the whole tree level by level, a directory per task at a
    /// time, stats only the entries whose name matches. Returns the entries visited; checks the matches against
    /// the names that were written.
    /// </summary>
    public async Task<long> FindAsync(IReadOnlyList<IIo500Storage> storages)
    {
        var pattern = _settings.FindNameContains;
        long visited = 0;
        long matched = 0;
        List<string> level = [string.Empty];
        while (level.Count > 0)
        {
            var next = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(
                Enumerable.Range(0, level.Count),
                new ParallelOptions { MaxDegreeOfParallelism = storages.Count },
                async (i, _) =>
                {
                    var storage = storages[i % storages.Count];
                    var dir = level[i];
                    await foreach (var (name, isDirectory) in storage.ListAsync(dir))
                    {
                        Interlocked.Increment(ref visited);
                        var path = dir.Length == 0 ? name : $"{dir}/{name}";
                        if (isDirectory)
                        {
                            next.Add(path);
                        }
                        else if (name.Contains(pattern, StringComparison.Ordinal) && await storage.StatAsync(path) == _settings.MdtestHardFileSize)
                        {
                            Interlocked.Increment(ref matched);
                        }
                    }
                });
            level = [.. next];
        }

        var expected = ExpectedFindMatches();
        if (matched != expected)
        {
            throw new InvalidDataException($"find matched {matched} files, expected {expected}.");
        }

        return visited;
    }

    /// <summary>Only mdtest-hard files have the searched size; count those whose name matches.</summary>
    private long ExpectedFindMatches()
    {
        long expected = 0;
        for (var t = 0; t < _settings.Tasks; t++)
        {
            for (var i = 0; i < _settings.MdtestHardFilesPerTask; i++)
            {
                if (string.Create(CultureInfo.InvariantCulture, $"file.{t}.{i}").Contains(_settings.FindNameContains, StringComparison.Ordinal))
                {
                    expected++;
                }
            }
        }

        return expected;
    }
}
