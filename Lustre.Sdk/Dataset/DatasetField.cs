namespace Lustre.Dataset;

/// <summary>One named part of a sample: a tar member's extension, an indexed-shard field, <c>record</c> or <c>tokens</c>.</summary>
/// <param name="Name">The field name, e.g. <c>png</c>, <c>cls</c>, <c>record</c>, <c>tokens</c>.</param>
/// <param name="Data">The field's bytes. When read from a <see cref="LustreDataset"/>, valid until the sample is disposed.</param>
public readonly record struct DatasetField(string Name, ReadOnlyMemory<byte> Data);
