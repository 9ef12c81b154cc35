// A training pipeline's use of the packages: an embedded cluster, a striped file, a dataset, a checkpoint.
using System.Text;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Layouts;
using Lustre.Server.Cluster;

await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
await using var client = new LustreClient(cluster.Address);
Console.WriteLine($"consumer: cluster at {cluster.Address}");

// 1. A file striped over every OST, written through a Stream and read back.
var payload = new byte[24 << 20];
new Random(7).NextBytes(payload);
await using (var stream = await client.OpenStreamAsync("/weights.bin", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(1 << 20, -1)))
{
    await stream.WriteAsync(payload);
}

var info = await client.GetInfoAsync("/weights.bin");
await using (var stream = await client.OpenStreamAsync("/weights.bin", FileMode.Open, FileAccess.Read))
{
    var back = new byte[payload.Length];
    await stream.ReadExactlyAsync(back);
    Check(back.AsSpan().SequenceEqual(payload), "striped file content");
}

Console.WriteLine($"consumer: striped file of {info.Length} bytes over {info.Layout!.Components[0].Objects.Count} OSTs read back");

// 2. A dataset: shards written, then one shuffled epoch read back.
await client.CreateDirectoryAsync("/data");
await using (var writer = await DatasetWriter.CreateAsync(client, "/data"))
{
    for (var i = 0; i < 500; i++)
    {
        await writer.WriteAsync($"sample-{i:D4}", "text", Encoding.UTF8.GetBytes($"payload {i}"));
    }

    await writer.CompleteAsync();
}

var keys = new HashSet<string>();
await using (var dataset = await LustreDataset.OpenAsync(client, "/data", new LustreDatasetOptions { Seed = 1 }))
{
    await foreach (var sample in dataset.ReadAsync())
    {
        using (sample)
        {
            Check(Encoding.UTF8.GetString(sample["text"].Span) == $"payload {int.Parse(sample.Key[7..], System.Globalization.CultureInfo.InvariantCulture)}", "dataset sample content");
            keys.Add(sample.Key);
        }
    }
}

Check(keys.Count == 500, "every sample once per epoch");
Console.WriteLine($"consumer: dataset epoch read {keys.Count} samples");

// 3. A checkpoint saved asynchronously, committed, then loaded and compared.
var weights = new float[1 << 18];
for (var i = 0; i < weights.Length; i++)
{
    weights[i] = i * 0.5f;
}

await using (var checkpoints = new CheckpointManager(client, "/ckpt"))
{
    var save = await checkpoints.SaveAsync(100, [NamedTensor.FromValues<float>("layer.weight", TensorDType.F32, [512, 512], weights)]);
    weights.AsSpan().Clear(); // the save already holds its own copy
    await save.Completion;
    using var loaded = await checkpoints.LoadAsync();
    var restored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(loaded["layer.weight"].Data.Span);
    Check(loaded.Step == 100 && restored[1000] == 500f && restored.Length == 1 << 18, "checkpoint content");
    Console.WriteLine($"consumer: checkpoint step {loaded.Step} ({loaded.Bytes} bytes) saved, committed and loaded");
}

Console.WriteLine("consumer: OK");
return 0;

static void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException($"consumer check failed: {what}");
    }
}
