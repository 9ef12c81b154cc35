namespace Lustre.Benchmarks.Io500;

/// <summary>The IO500 phases, in the order IO500 runs them (writes first, find in the middle, deletes last).</summary>
internal enum Io500Phase
{
    IorEasyWrite,
    MdtestEasyWrite,
    IorHardWrite,
    MdtestHardWrite,
    Find,
    IorEasyRead,
    MdtestEasyStat,
    IorHardRead,
    MdtestHardStat,
    MdtestEasyDelete,
    MdtestHardRead,
    MdtestHardDelete,
}

/// <summary>Names and units of the phases.</summary>
internal static class Io500PhaseExtensions
{
    public static string Name(this Io500Phase phase) => phase switch
    {
        Io500Phase.IorEasyWrite => "ior-easy-write",
        Io500Phase.MdtestEasyWrite => "mdtest-easy-write",
        Io500Phase.IorHardWrite => "ior-hard-write",
        Io500Phase.MdtestHardWrite => "mdtest-hard-write",
        Io500Phase.Find => "find",
        Io500Phase.IorEasyRead => "ior-easy-read",
        Io500Phase.MdtestEasyStat => "mdtest-easy-stat",
        Io500Phase.IorHardRead => "ior-hard-read",
        Io500Phase.MdtestHardStat => "mdtest-hard-stat",
        Io500Phase.MdtestEasyDelete => "mdtest-easy-delete",
        Io500Phase.MdtestHardRead => "mdtest-hard-read",
        Io500Phase.MdtestHardDelete => "mdtest-hard-delete",
        _ => phase.ToString(),
    };

    /// <summary>Bandwidth phases (GiB/s) make IO500's BW score; the others (kIOPS) its MD score.</summary>
    public static bool IsBandwidth(this Io500Phase phase) =>
        phase is Io500Phase.IorEasyWrite or Io500Phase.IorEasyRead or Io500Phase.IorHardWrite or Io500Phase.IorHardRead;
}
