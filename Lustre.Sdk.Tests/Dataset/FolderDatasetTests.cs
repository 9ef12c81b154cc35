using Lustre.Client;
using Lustre.Dataset;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;
using Lustre.Tests.IO;

namespace Lustre.Tests.Dataset;

/// <summary>
/// <see cref="DatasetFormat.Folder"/>: one file per sample, labelled by its class folder (ImageFolder) or by a
/// selector, read shuffled, partitioned and resumable like shards, the files opened and read in batches.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FolderDatasetTests(ClusterFixture fixture)
{
    /// <summary>
    /// An image folder: classes cat (12 files), dog (8, three of them in a subfolder), empty (none) and zebra (5), plus
    /// a README directly in the root, which ImageFolder does not count. Sizes 1 byte to 9 KiB; each file's bytes are
    /// its own.
    /// </summary>
    private async Task<(string Root, Dictionary<string, byte[]> Files)> WriteFolderAsync()
    {
        var root = await fixture.NewDirectoryAsync();
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var dir in new[] { "cat", "dog", "dog/puppies", "empty", "zebra" })
        {
            await fixture.Client.CreateDirectoryAsync($"{root}/{dir}");
        }

        var random = new Random(7);
        var names = Enumerable.Range(0, 12).Select(i => $"cat/c{i:D2}.jpg")
            .Concat(Enumerable.Range(0, 5).Select(i => $"dog/d{i}.png"))
            .Concat(Enumerable.Range(0, 3).Select(i => $"dog/puppies/p{i}.jpg"))
            .Concat(Enumerable.Range(0, 5).Select(i => $"zebra/z{i}"))
            .Append("README.txt");
        await Task.WhenAll(names.Select(async name =>
        {
            byte[] data;
            lock (random)
            {
                data = new byte[random.Next(1, 9 << 10)];
                random.NextBytes(data);
            }

            lock (files)
            {
                files[name] = data;
            }

            await using var file = await fixture.Client.OpenFileAsync($"{root}/{name}", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, 1));
            await file.WriteAtAsync(0, data);
        }));
        return (root, files);
    }

    [Theory]
    [InlineData(1, DatasetShuffle.Global)]
    [InlineData(2, DatasetShuffle.Global)]
    [InlineData(3, DatasetShuffle.ShardWindow)]
    [InlineData(2, DatasetShuffle.Blocks)]
    [InlineData(1, DatasetShuffle.None)]
    public async Task Every_file_in_a_class_folder_is_read_once_per_epoch_with_its_class_label(int world, DatasetShuffle shuffle)
    {
        var (root, files) = await WriteFolderAsync();
        var seen = new List<string>();
        for (var rank = 0; rank < world; rank++)
        {
            await using var dataset = await LustreDataset.OpenAsync(
                fixture.Client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, Shuffle = shuffle, Rank = rank, WorldSize = world, Remainder = DatasetRemainder.Pad, ShuffleWindow = 7, ShuffleBlock = 3, Partitions = 6 });
            Assert.Equal(["cat", "dog", "empty", "zebra"], dataset.Classes);
            Assert.Equal(25, dataset.Count);
            Assert.Equal(files.Keys.Where(k => k.Contains('/', StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(k => $"{root}/{k}"), dataset.Shards);
            await foreach (var sample in dataset.ReadAsync())
            {
                using (sample)
                {
                    var field = Assert.Single(sample.Fields);
                    Assert.Equal(files[sample.Key], field.Data.ToArray());
                    Assert.Equal($"{root}/{sample.Key}", sample.ShardPath);
                    Assert.Equal(Path.GetExtension(sample.Key) is { Length: > 0 } ext ? ext[1..] : "data", field.Name);
                    Assert.Equal(dataset.Classes.ToList().IndexOf(sample.Key[..sample.Key.IndexOf('/', StringComparison.Ordinal)]), sample.Label);
                    seen.Add(sample.Key);
                }
            }

            Assert.Equal(1, dataset.Epoch);
            Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        }

        Assert.Equal(25 + ((world - (25 % world)) % world), seen.Count);
        Assert.Equal(files.Keys.Where(k => k != "README.txt").Order(StringComparer.Ordinal), seen.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_label_selector_labels_every_file_below_the_roots_and_a_negative_label_is_refused_by_path()
    {
        var (root, files) = await WriteFolderAsync();
        await using var dataset = await LustreDataset.OpenAsync(
            fixture.Client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, LabelSelector = path => path.Length % 10 });

        Assert.Empty(dataset.Classes);
        Assert.Equal(26, dataset.Count);
        var labels = new Dictionary<string, int?>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                Assert.Equal(files[sample.Key], sample.Fields[0].Data.ToArray());
                labels[sample.Key] = sample.Label;
            }
        }

        Assert.Equal(files.Keys.ToDictionary(k => k, k => (int?)($"{root}/{k}".Length % 10)), labels);
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(
            fixture.Client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, LabelSelector = path => path.EndsWith("README.txt", StringComparison.Ordinal) ? -1 : 0 }));
        Assert.Contains($"{root}/README.txt", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resuming_mid_epoch_with_another_world_size_reads_exactly_the_files_left()
    {
        var (root, _) = await WriteFolderAsync();
        var options = new LustreDatasetOptions { Format = DatasetFormat.Folder, Seed = 5, Epoch = 3, Rank = 0, WorldSize = 1, PrefetchWindow = 4 };
        var first = new List<long>();
        LustreDatasetState state;
        await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, root, options))
        {
            await foreach (var sample in dataset.ReadAsync())
            {
                first.Add(sample.Index);
                sample.Dispose();
                if (first.Count == 9)
                {
                    break;
                }
            }

            state = dataset.GetState();
        }

        var rest = new List<long>();
        for (var rank = 0; rank < 2; rank++)
        {
            await using var resumed = await LustreDataset.OpenAsync(fixture.Client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, ResumeFrom = state, Rank = rank, WorldSize = 2, Remainder = DatasetRemainder.Pad });
            await foreach (var sample in resumed.ReadAsync())
            {
                rest.Add(sample.Index);
                sample.Dispose();
            }
        }

        Assert.Equal((3, 9L, 25L), (state.Epoch, state.Position, state.SampleCount));
        Assert.Equal(16, rest.Count);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), first.Concat(rest).Order());
    }

    [Fact]
    public async Task An_epoch_opens_and_reads_the_files_in_batches()
    {
        var root = await fixture.NewDirectoryAsync();
        await fixture.Client.CreateDirectoryAsync($"{root}/only");
        await Task.WhenAll(Enumerable.Range(0, 400).Select(async i =>
        {
            await using var file = await fixture.Client.OpenFileAsync($"{root}/only/{i:D4}.bin", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, 1));
            await file.WriteAtAsync(0, new byte[1000 + i]);
        }));
        await using var recorder = RecordingClient.Create(fixture.Address);
        await using var dataset = await LustreDataset.OpenAsync(recorder.Client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, Rank = 0, WorldSize = 1 });

        var bytes = 0L;
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                Assert.Equal(1000 + int.Parse(sample.Key[5..9], System.Globalization.CultureInfo.InvariantCulture), sample.Length);
                Assert.Equal(0, sample.Label);
                bytes += sample.Length;
            }
        }

        // 400 files of about 1.2 KB over 4 OSTs: each window's files of one OST in one or two requests, not 400.
        Assert.Equal(400, dataset.Statistics.SamplesRead);
        Assert.Equal(bytes, dataset.Statistics.BytesFetched);
        Assert.Equal(bytes, recorder.BulkBytes(Opcode.OstReadBatch) + recorder.BulkBytes(Opcode.OstRead));
        Assert.InRange(recorder.Count(Opcode.OstReadBatch) + recorder.Count(Opcode.OstRead), 1, 20);

        // The opening's one batch, then one per prefetch window: a Folder data set's default window is 256 files.
        Assert.Equal(1 + 2, recorder.Count(Opcode.MdsOpenBatch));
    }

    [Fact]
    public async Task The_windows_of_an_epoch_open_their_files_one_after_another()
    {
        // 40 files in windows of 8: five windows, all started at once (the budget holds them all).
        var root = await fixture.NewDirectoryAsync();
        await fixture.Client.CreateDirectoryAsync($"{root}/only");
        await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            await using var file = await fixture.Client.OpenFileAsync($"{root}/only/{i:D4}.bin", FileMode.CreateNew);
            await file.WriteAtAsync(0, new byte[100 + i]);
        }));
        var gate = new RpcGate { Opcode = Opcode.MdsOpenBatch, Armed = false };
        await using var client = new LustreClient(fixture.Address);
        gate.AttachToMdt(client);
        await using var dataset = await LustreDataset.OpenAsync(client, root, new LustreDatasetOptions { Format = DatasetFormat.Folder, PrefetchWindow = 8, Rank = 0, WorldSize = 1 });

        gate.Armed = true;
        var reading = Task.Run(async () =>
        {
            var sizes = new List<long>();
            await foreach (var sample in dataset.ReadAsync())
            {
                using (sample)
                {
                    Assert.Equal(100 + int.Parse(sample.Key[5..9], System.Globalization.CultureInfo.InvariantCulture), sample.Length);
                    sizes.Add(sample.Length);
                }
            }

            return sizes;
        });

        // The first window's open waits at the gate; the four behind it wait for it rather than open beside it. Open
        // together, their reads would share the read slots and the consumer, waiting for the first, would wait for all.
        await gate.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(300);
        Assert.Equal(1, gate.Arrived);

        gate.Open();
        var sizes = await reading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(100, 40).Select(n => (long)n), sizes.Order());
        Assert.Equal(5, gate.Arrived);
    }

    [Fact]
    public void The_prefetch_window_is_256_files_for_a_folder_and_1024_samples_for_shards_unless_set()
    {
        Assert.Equal(256, new LustreDatasetOptions { Format = DatasetFormat.Folder }.PrefetchWindow);
        Assert.Equal(1024, new LustreDatasetOptions().PrefetchWindow);
        Assert.Equal(1024, new LustreDatasetOptions { Format = DatasetFormat.WebDataset }.PrefetchWindow);
        Assert.Equal(1024, new LustreDatasetOptions { Format = DatasetFormat.Folder, PrefetchWindow = 1024 }.PrefetchWindow);
        Assert.Equal(64, new LustreDatasetOptions { PrefetchWindow = 64, Format = DatasetFormat.Folder }.PrefetchWindow);
    }

    [Fact]
    public async Task A_file_changed_or_deleted_after_the_open_fails_the_epoch_naming_it()
    {
        var (root, _) = await WriteFolderAsync();
        var options = new LustreDatasetOptions { Format = DatasetFormat.Folder, Shuffle = DatasetShuffle.None };
        await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, root, options))
        {
            await using (var file = await fixture.Client.OpenFileAsync($"{root}/cat/c03.jpg", FileMode.Open))
            {
                await file.WriteAtAsync(file.Length, new byte[] { 1 });
            }

            var changed = await Assert.ThrowsAsync<DatasetFormatException>(() => ReadAllAsync(dataset));
            Assert.Equal($"{root}/cat/c03.jpg", changed.ShardPath);
            Assert.Contains("open the data set again", changed.Message, StringComparison.Ordinal);
            Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        }

        await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, root, options))
        {
            await fixture.Client.DeleteFileAsync($"{root}/zebra/z2");
            var deleted = await Assert.ThrowsAsync<FileNotFoundException>(() => ReadAllAsync(dataset));
            Assert.Equal($"{root}/zebra/z2", deleted.FileName);
        }
    }

    [Fact]
    public async Task Opening_a_file_or_a_folder_without_classes_as_a_folder_data_set_is_refused()
    {
        var root = await fixture.NewDirectoryAsync();
        await using (var file = await fixture.Client.OpenFileAsync($"{root}/loose.jpg", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, new byte[10]);
        }

        var options = new LustreDatasetOptions { Format = DatasetFormat.Folder };
        var notDirectory = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, $"{root}/loose.jpg", options));
        Assert.Contains("is a file", notDirectory.Message, StringComparison.Ordinal);
        var noClasses = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, root, options));
        Assert.Contains("class folders", noClasses.Message, StringComparison.Ordinal);
        var auto = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, root));
        Assert.Contains("Format to Folder", auto.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<FileNotFoundException>(() => LustreDataset.OpenAsync(fixture.Client, $"{root}/missing", options));
    }

    private static async Task ReadAllAsync(LustreDataset dataset)
    {
        await foreach (var sample in dataset.ReadAsync())
        {
            sample.Dispose();
        }
    }
}
