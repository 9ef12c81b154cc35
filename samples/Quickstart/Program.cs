// Quickstart: start an all-in-one cluster in a temp folder, then write and read back a striped file.
using System.Diagnostics;
using System.Security.Cryptography;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;

await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
Console.WriteLine($"Cluster up at {cluster.Address} (MGS + MDT0000 + 4 OSTs), data in {cluster.DataDirectory}");

await using var client = new LustreClient(cluster.Address);
await client.CreateDirectoryAsync("/demo");

// Stripe the file over every OST in 1 MiB units: reads and writes go to all four at once.
var layout = FileLayout.Raid0(stripeSize: 1 << 20, stripeCount: -1);
var data = RandomNumberGenerator.GetBytes(256 << 20);
var timer = Stopwatch.StartNew();
await using (var file = await client.OpenFileAsync("/demo/data.bin", FileMode.CreateNew, layout: layout))
{
    await file.WriteAtAsync(0, data);
    await file.FlushAsync();
    Console.WriteLine($"Wrote {data.Length >> 20} MiB in {timer.ElapsedMilliseconds} ms ({Rate(data.Length, timer.Elapsed)}), durable on every OST");
    Console.WriteLine($"Layout: {file.Layout}");
}

timer.Restart();
var back = new byte[data.Length];
await using (var file = await client.OpenFileAsync("/demo/data.bin"))
{
    var read = await file.ReadAtAsync(0, back);
    Console.WriteLine($"Read {read >> 20} MiB in {timer.ElapsedMilliseconds} ms ({Rate(read, timer.Elapsed)})");
}

Console.WriteLine(data.AsSpan().SequenceEqual(back) ? "Content verified: byte-identical." : "CONTENT MISMATCH");

await client.RenameAsync("/demo/data.bin", "/demo/renamed.bin");
await foreach (var info in client.EnumerateFileInfosAsync("/demo"))
{
    Console.WriteLine($"  {info.Path}  {info.Length} bytes  fid {info.Fid}");
}

await client.DeleteFileAsync("/demo/renamed.bin");
await client.DeleteDirectoryAsync("/demo");
Console.WriteLine("Deleted the file and the directory; the cluster stops and removes its temp folder.");
return data.AsSpan().SequenceEqual(back) ? 0 : 1;

static string Rate(long bytes, TimeSpan elapsed) => $"{bytes / elapsed.TotalSeconds / (1 << 20):F0} MiB/s";
