using System.Globalization;
using Lustre.Client;
using Lustre.Dataset.Formats;
using Lustre.IO;

namespace Lustre.Dataset;

/// <summary>
/// Writes samples into shard files of about <see cref="DatasetWriterOptions.TargetShardSize"/> bytes in a directory,
/// in our indexed format, WebDataset tar or TFRecord. Writes go through a <see cref="LustreStream"/> (write-behind, full
/// stripe chunks). A shard is complete, and durable, once the next one starts or <see cref="CompleteAsync"/> returns.
/// Not thread-safe: one writer per producer.
/// </summary>
public sealed class DatasetWriter : IAsyncDisposable
{
    private readonly LustreClient _client;
    private readonly string _directory;
    private readonly DatasetWriterOptions _options;
    private readonly ShardEncoder _encoder;
    private readonly List<string> _shards = [];
    private readonly DatasetField[] _single = new DatasetField[1];
    private LustreStream? _stream;
    private long _shardBytes;
    private bool _completed;

    private DatasetWriter(LustreClient client, string directory, DatasetWriterOptions options)
    {
        _client = client;
        _directory = directory.TrimEnd('/');
        _options = options;
        _encoder = ShardEncoder.For(options.Format);
    }

    /// <summary>The shards written or being written, in order.</summary>
    public IReadOnlyList<string> Shards => _shards;

    /// <summary>Samples written so far.</summary>
    public long SampleCount { get; private set; }

    /// <summary>Creates <paramref name="directory"/> (and its missing parents) if needed and returns a writer into it.</summary>
    public static async Task<DatasetWriter> CreateAsync(LustreClient client, string directory, DatasetWriterOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new DatasetWriterOptions();
        options.Validate();
        // Like mkdir -p: create the missing ancestors too.
        var missing = new Stack<string>();
        for (var path = directory.TrimEnd('/'); path.Length > 0 && !await client.ExistsAsync(path, cancellationToken).ConfigureAwait(false); path = path[..path.LastIndexOf('/')])
        {
            missing.Push(path);
        }

        while (missing.TryPop(out var path))
        {
            await client.CreateDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        }

        return new DatasetWriter(client, directory, options);
    }

    /// <summary>Writes a sample with one field named <paramref name="fieldName"/>.</summary>
    public ValueTask WriteAsync(string key, string fieldName, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        _single[0] = new DatasetField(fieldName, data);
        return WriteAsync(key, _single, cancellationToken);
    }

    /// <summary>Writes a sample. The fields are copied (or sent) before this returns, so their memory may be reused.</summary>
    public async ValueTask WriteAsync(string key, IReadOnlyList<DatasetField> fields, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(fields);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_stream is null || _shardBytes >= _options.TargetShardSize)
        {
            await NextShardAsync(cancellationToken).ConfigureAwait(false);
        }

        _shardBytes += await _encoder.WriteSampleAsync(_stream!, _shardBytes, key, fields, cancellationToken).ConfigureAwait(false);
        SampleCount++;
    }

    /// <summary>Finishes the last shard (index, end marker) and makes every shard durable.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        await CloseShardAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Completes the writer (see <see cref="CompleteAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            if (_stream is not null)
            {
                await _stream.DisposeAsync().ConfigureAwait(false);
                _stream = null;
            }
        }
    }

    private async Task NextShardAsync(CancellationToken cancellationToken)
    {
        await CloseShardAsync(cancellationToken).ConfigureAwait(false);
        var path = string.Create(CultureInfo.InvariantCulture, $"{_directory}/{_options.ShardNamePrefix}-{_shards.Count:D5}{_encoder.Extension}");
        _stream = await _client.OpenStreamAsync(path, FileMode.CreateNew, FileAccess.Write, _options.Layout, cancellationToken).ConfigureAwait(false);
        _shards.Add(path);
        _shardBytes = 0;
        await _encoder.BeginShardAsync(_stream, cancellationToken).ConfigureAwait(false);
        _shardBytes = _stream.Position;
    }

    private async Task CloseShardAsync(CancellationToken cancellationToken)
    {
        if (_stream is not { } stream)
        {
            return;
        }

        await _encoder.EndShardAsync(stream, _shardBytes, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        _stream = null;
        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
