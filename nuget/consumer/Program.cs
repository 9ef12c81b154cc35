// A training pipeline's use of the packages, written as the package README (nuget/README.md) shows them: an embedded
// cluster, a client from configuration through DI, a striped file, a dataset, a checkpoint.
using System.Runtime.InteropServices;
using System.Text;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
Console.WriteLine($"consumer: cluster at {cluster.Address}");

// 1. Configuration and DI: the README's appsettings.json, in memory because the cluster's port is chosen at start.
var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Lustre:Address"] = cluster.Address,
    ["Lustre:MaxRpcsInFlightPerOst"] = "16",
    ["Lustre:RequestTimeout"] = "00:00:30",
    ["Archive:Address"] = cluster.Address,
}).Build();
var services = new ServiceCollection();
services.AddLustreClient(configuration.GetSection("Lustre"));
services.AddLustreClient("archive", configuration.GetSection("Archive"));
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<LustreClient>();
var archive = provider.GetRequiredKeyedService<LustreClient>("archive");
Check(client == provider.GetRequiredService<LustreClient>() && archive != client, "one shared client and a keyed one");
Check((await archive.GetInfoAsync("/")).IsDirectory, "the keyed client reaches the cluster");

// A bad option is refused naming it, by the options system (in a host: when it starts).
var bad = new ServiceCollection();
bad.AddLustreClient(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Lustre:Address"] = cluster.Address, ["Lustre:MaxBulkSize"] = "100000" }).Build().GetSection("Lustre"));
await using (var badProvider = bad.BuildServiceProvider())
{
    try
    {
        badProvider.GetRequiredService<LustreClient>();
        Check(false, "a bad option is refused");
    }
    catch (OptionsValidationException ex)
    {
        Check(ex.Message.Contains("MaxBulkSize", StringComparison.Ordinal), "the refusal names the option");
    }
}

Console.WriteLine("consumer: clients from configuration through DI (one shared, one keyed); a bad option refused by name");

// 2. A file striped over every OST, written through a Stream and read back.
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

// 3. A dataset, as the README: shards written, then one shuffled epoch read back.
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
            Train(sample.Key, sample["text"].Span);
        }
    }
}

Check(keys.Count == 500, "every sample once per epoch");
Console.WriteLine($"consumer: dataset epoch read {keys.Count} samples");

// 4. A checkpoint, as the README: saved asynchronously, committed, then loaded and compared.
var weights = new float[512 * 512];
for (var i = 0; i < weights.Length; i++)
{
    weights[i] = i * 0.5f;
}

await using (var checkpoints = new CheckpointManager(client, "/ckpt"))
{
    var save = await checkpoints.SaveAsync(100, [NamedTensor.FromValues<float>("layer.weight", TensorDType.F32, [512, 512], weights)]);
    weights.AsSpan().Clear(); // the save already holds its own copy
    await save.WaitForCompletionAsync();
    using var loaded = await checkpoints.LoadAsync();
    var restored = MemoryMarshal.Cast<byte, float>(loaded["layer.weight"].Data.Span);
    Check(loaded.Step == 100 && restored[1000] == 500f && restored.Length == 512 * 512, "checkpoint content");
    Console.WriteLine($"consumer: checkpoint step {loaded.Step} ({loaded.Bytes} bytes) saved, committed and loaded");
}

Console.WriteLine("consumer: OK");
return 0;

// The README's training step: here, check that each sample holds what was written for its key.
void Train(string key, ReadOnlySpan<byte> text)
{
    Check(Encoding.UTF8.GetString(text) == $"payload {int.Parse(key[7..], System.Globalization.CultureInfo.InvariantCulture)}", "dataset sample content");
    keys.Add(key);
}

static void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException($"consumer check failed: {what}");
    }
}
