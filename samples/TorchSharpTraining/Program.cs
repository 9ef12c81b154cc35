// TorchSharpTraining: a small CNN (TorchSharp, CPU) learns the MNIST digits the DataLoader sample ships. LustreDataset
// feeds it shuffled batches from shards on the cluster, CheckpointManager saves the module's parameters and Adam's state
// every N steps, and a run starts from the newest committed checkpoint, so a second run continues where the first one
// stopped (weights, optimizer moments and the reader's position in its epoch). The embedded cluster keeps its data in
// --data (default: lustre-torchsharp-training in the system temp folder) between runs; --fresh starts over.
//
//   dotnet run -c Release --project samples/TorchSharpTraining                  # trains 200 steps, checkpoints every 50
//   dotnet run -c Release --project samples/TorchSharpTraining                  # resumes: 200 more steps
//   ... -- --fresh | --data DIR | --steps N --every N | --mgs 127.0.0.1:9880/lustre
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Server.Cluster;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharpTraining;
using static TorchSharp.torch;

const int Pixels = 28 * 28;
const int BatchSize = 64;
const int HeldOut = 1000;

var options = Arguments.Parse(args);
if (options.Fresh && Directory.Exists(options.Data))
{
    Directory.Delete(options.Data, recursive: true);
}

await using var cluster = options.Mgs is null
    ? await LustreCluster.StartAsync(new LustreClusterOptions { DataDirectory = options.Data, DeleteDataOnDispose = false, OstCount = 4 })
    : null;
var address = options.Mgs ?? cluster!.Address;
Console.WriteLine(cluster is null
    ? $"Using the cluster at {address}"
    : $"Cluster up at {address} (MGS + MDT + 4 OSTs), data kept in {(options.Data == Arguments.DefaultData ? "lustre-torchsharp-training in the temp folder" : options.Data)} (--fresh starts over)");
await using var client = new LustreClient(address);

// The same digits and split as samples/DataLoader: the first 9,000 train, the last 1,000 are held out.
var digits = LoadDigits(Path.Combine(AppContext.BaseDirectory, "Data", "mnist-10k.bin.gz"));
var trainCount = (digits.Length / (Pixels + 1)) - HeldOut;
var trainPath = $"{options.Root}/train";
var timer = Stopwatch.StartNew();
if (await client.ExistsAsync(trainPath))
{
    Console.WriteLine($"MNIST: {trainCount} training digits already in {trainPath}; {HeldOut} held out");
}
else
{
    var shards = await ImportAsync(client, trainPath, digits.AsMemory(0, trainCount * (Pixels + 1)));
    Console.WriteLine($"MNIST: {trainCount} training digits imported into {trainPath} ({shards} shards) in {timer.ElapsedMilliseconds} ms; {HeldOut} held out");
}

torch.manual_seed(1);
var model = nn.Sequential(
    ("conv1", nn.Conv2d(1, 16, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),  // 16 x 12 x 12
    ("conv2", nn.Conv2d(16, 32, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)), // 32 x 4 x 4
    ("flatten", nn.Flatten()),
    ("fc1", nn.Linear(32 * 4 * 4, 64)), ("relu3", nn.ReLU()),
    ("fc2", nn.Linear(64, 10)));
var parameters = model.named_parameters().ToList();
using var optimizer = optim.Adam(parameters.Select(p => p.parameter), lr: 1e-3);
var trainingState = new TrainingCheckpoint(parameters, optimizer);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Model: conv 5x5 (16) -> pool -> conv 5x5 (32) -> pool -> fc 64 -> fc 10, {parameters.Sum(p => p.parameter.NumberOfElements):N0} parameters; Adam, batch {BatchSize}; TorchSharp on libtorch {torch.__version__} CPU, {torch.get_num_threads()} threads"));

var (heldOutImages, heldOutLabels) = HeldOutTensors(digits.AsSpan(trainCount * (Pixels + 1)));
await using var checkpoints = new CheckpointManager(client, $"{options.Root}/checkpoints", new CheckpointManagerOptions { KeepLast = 3, Rank = 0, WorldSize = 1, RunId = null });
var datasetOptions = new LustreDatasetOptions { Seed = 42, Shuffle = DatasetShuffle.Global, RequiredFields = ["cls", "pixels"], Rank = 0, WorldSize = 1 };
long step = 0;
if (await checkpoints.GetLatestStepAsync() is not null)
{
    timer.Restart();
    using var checkpoint = await trainingState.LoadLatestAsync(checkpoints, default);
    step = checkpoint.Step;
    datasetOptions.ResumeFrom = JsonSerializer.Deserialize<LustreDatasetState>(checkpoint.Metadata["dataset"]);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Resumed from step {step}: {checkpoint.Tensors.Count} tensors ({checkpoint.Bytes / 1024.0:F0} KiB) loaded into the module and Adam's state in {timer.ElapsedMilliseconds} ms; the reader resumes epoch {datasetOptions.ResumeFrom!.Epoch} after {datasetOptions.ResumeFrom.Position:N0} of its {datasetOptions.ResumeFrom.SampleCount:N0} samples"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Held-out accuracy of the loaded weights: {Evaluate(model, heldOutImages, heldOutLabels):P1} ({double.Parse(checkpoint.Metadata["heldout_accuracy"], CultureInfo.InvariantCulture):P1} when saved)"));
}
else
{
    Console.WriteLine($"No checkpoint yet: starting at step 0 (held-out accuracy untrained: {Evaluate(model, heldOutImages, heldOutLabels):P1})");
}

// The batch tensors share these arrays (torch.frombuffer pins them), so filling the arrays fills the tensors. The one
// copy left: each digit's bytes lie in the reader's pooled buffers, scattered by the shuffle, and the model wants
// floats, so every batch is gathered once, converting bytes to floats on the way; nothing copies them after that.
var inputs = new float[BatchSize * Pixels];
var labels = new long[BatchSize];
using var inputStorage = torch.frombuffer(inputs, ScalarType.Float32);
using var inputTensor = inputStorage.view(BatchSize, 1, 28, 28);
using var labelTensor = torch.frombuffer(labels, ScalarType.Int64);

await using var dataset = await LustreDataset.OpenAsync(client, trainPath, datasetOptions);
var lastStep = step + options.Steps;
Console.WriteLine($"Training steps {step + 1}-{lastStep}, a checkpoint every {options.Every} steps ({trainingState.Count} tensors, {trainingState.Bytes / 1024.0:F0} KiB) to {checkpoints.Root}:");
Console.WriteLine($"  {"step",5}  {"epoch",5}  {"loss",6}  {"train acc",9}  {"held-out",8}  checkpoint");
CheckpointSaveOperation? save = null;
double lossSum = 0;
long correct = 0, seen = 0;
var training = Stopwatch.StartNew();
while (step < lastStep)
{
    await foreach (var batch in dataset.ReadBatchesAsync(BatchSize, dropLast: true))
    {
        using (batch)
        {
            for (var b = 0; b < batch.Count; b++)
            {
                var sample = batch.Samples[b];
                labels[b] = sample["cls"].Span[0];
                var pixels = sample["pixels"].Span;
                var x = inputs.AsSpan(b * Pixels, Pixels);
                for (var p = 0; p < Pixels; p++)
                {
                    x[p] = pixels[p] / 255f;
                }
            }
        }

        using (torch.NewDisposeScope())
        {
            optimizer.zero_grad();
            var logits = model.forward(inputTensor);
            var loss = nn.functional.cross_entropy(logits, labelTensor);
            loss.backward();
            optimizer.step();
            lossSum += loss.item<float>() * BatchSize;
            correct += logits.argmax(1).eq(labelTensor).sum().item<long>();
        }

        seen += BatchSize;
        step++;
        if (step % options.Every == 0 || step == lastStep)
        {
            // At most one save in flight: the previous one commits while we train. SaveAsync returns once the tensors
            // are copied into staging memory, so the next optimizer step may change them.
            if (save is not null)
            {
                await save.Completion;
            }

            var accuracy = Evaluate(model, heldOutImages, heldOutLabels);
            var metadata = new Dictionary<string, string>
            {
                ["sample"] = "TorchSharpTraining",
                ["dataset"] = JsonSerializer.Serialize(dataset.GetState()),
                ["heldout_accuracy"] = accuracy.ToString("R", CultureInfo.InvariantCulture),
            };
            save = await checkpoints.SaveAsync(step, trainingState.Tensors(), metadata);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {step,5}  {dataset.Epoch,5}  {lossSum / seen,6:F3}  {(double)correct / seen,9:P1}  {accuracy,8:P1}  step {step} staged in {save.StagingTime.TotalMilliseconds:F1} ms"));
            lossSum = 0;
            correct = seen = 0;
        }

        if (step == lastStep)
        {
            break;
        }
    }
}

var trainingTime = training.Elapsed;
await save!.Completion;
var final = Evaluate(model, heldOutImages, heldOutLabels);
var kept = await checkpoints.ListStepsAsync();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Trained {options.Steps} steps ({options.Steps * BatchSize:N0} samples, {options.Steps * BatchSize / trainingTime.TotalSeconds:N0}/s) in {trainingTime.TotalSeconds:F1} s; committed checkpoints kept: {string.Join(", ", kept)}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Held-out accuracy after step {step}: {final:P1} (samples/DataLoader's softmax regression: 89.1 %)"));
return 0;

static byte[] LoadDigits(string path)
{
    using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var memory = new MemoryStream();
    gzip.CopyTo(memory);
    return memory.ToArray();
}

// One shard set in our indexed format, written under a temporary name and renamed into place when complete, so a run
// stopped mid-import never leaves a partial training set behind for the next run to mistake for the whole one.
static async Task<int> ImportAsync(LustreClient client, string path, ReadOnlyMemory<byte> records)
{
    var partial = $"{path}.importing-{Guid.NewGuid():N}";
    int shards;
    await using (var writer = await DatasetWriter.CreateAsync(client, partial, new DatasetWriterOptions { Format = DatasetFormat.Indexed, TargetShardSize = 1 << 20 }))
    {
        for (var i = 0; i < records.Length / (Pixels + 1); i++)
        {
            var record = records.Slice(i * (Pixels + 1), Pixels + 1);
            await writer.WriteAsync(i.ToString("D5", CultureInfo.InvariantCulture), [new DatasetField("cls", record[..1]), new DatasetField("pixels", record[1..])]);
        }

        await writer.CompleteAsync();
        shards = writer.Shards.Count;
    }

    await client.RenameAsync(partial, path);
    return shards;
}

static (Tensor Images, Tensor Labels) HeldOutTensors(ReadOnlySpan<byte> records)
{
    var count = records.Length / (Pixels + 1);
    var images = new float[count * Pixels];
    var labels = new long[count];
    for (var i = 0; i < count; i++)
    {
        var record = records.Slice(i * (Pixels + 1), Pixels + 1);
        labels[i] = record[0];
        for (var p = 0; p < Pixels; p++)
        {
            images[(i * Pixels) + p] = record[p + 1] / 255f;
        }
    }

    return (torch.frombuffer(images, ScalarType.Float32).view(count, 1, 28, 28), torch.frombuffer(labels, ScalarType.Int64));
}

static double Evaluate(Sequential model, Tensor images, Tensor labels)
{
    using var noGrad = torch.no_grad();
    using var scope = torch.NewDisposeScope();
    model.eval();
    var right = model.forward(images).argmax(1).eq(labels).sum().item<long>();
    model.train();
    return (double)right / labels.shape[0];
}

/// <summary>The command line.</summary>
internal sealed record Arguments(string? Mgs, string Data, bool Fresh, string Root, long Steps, long Every)
{
    /// <summary>Where the embedded cluster keeps its data unless --data says otherwise: kept between runs, so they resume.</summary>
    public static readonly string DefaultData = Path.Combine(Path.GetTempPath(), "lustre-torchsharp-training");

    public static Arguments Parse(string[] args)
    {
        var result = new Arguments(null, DefaultData, false, "/torchsharp-mnist", 200, 50);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            long Positive() => long.Parse(Value(), CultureInfo.InvariantCulture) is var n and > 0 ? n : throw new ArgumentException($"{args[i - 1]} must be 1 or more");
            result = args[i] switch
            {
                "--mgs" => result with { Mgs = Value() },
                "--data" => result with { Data = Value() },
                "--fresh" => result with { Fresh = true },
                "--root" => result with { Root = Value() },
                "--steps" => result with { Steps = Positive() },
                "--every" => result with { Every = Positive() },
                _ => throw new ArgumentException($"unknown option {args[i]}; use --data DIR [--fresh] | --mgs ADDRESS, --root PATH, --steps N, --every N"),
            };
        }

        if (result.Fresh && result.Mgs is not null)
        {
            throw new ArgumentException("--fresh deletes the embedded cluster's --data folder; on a running cluster (--mgs) pick a new --root instead");
        }

        return result;
    }
}
