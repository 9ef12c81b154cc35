using BenchmarkDotNet.Running;

namespace Lustre.Benchmarks;

internal static class BenchmarkProgram
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
