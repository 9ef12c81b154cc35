using Lustre.Client;

namespace Lustre.Tests.Client;

/// <summary>Where a client's job id comes from: Lustre's jobid_var and jobid_name, read without a cluster.</summary>
public sealed class JobIdTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void The_option_wins_over_every_variable_as_nodelocal()
    {
        var (id, variable) = JobIds.Resolve(new LustreClientOptions { JobId = "train-7" }, Environment(("SLURM_JOB_ID", "42")));

        Assert.Equal("train-7", id);
        Assert.Equal("nodelocal", variable);
    }

    [Theory]
    [InlineData("LUSTRE_JOBID", "custom")]
    [InlineData("SLURM_JOB_ID", "4242")]
    [InlineData("JOB_ID", "17")]
    [InlineData("LSB_JOBID", "881")]
    [InlineData("LOADL_STEP_ID", "fr2n02.32.0")]
    [InlineData("PBS_JOBID", "123.server")]
    [InlineData("ALPS_APP_ID", "99")]
    public void By_default_the_schedulers_variables_are_read(string name, string value)
    {
        var (id, variable) = JobIds.Resolve(new LustreClientOptions(), Environment((name, value)));

        Assert.Equal(value, id);
        Assert.Equal("auto", variable);
    }

    [Fact]
    public void LUSTRE_JOBID_comes_before_a_schedulers_id() =>
        Assert.Equal("mine", JobIds.Resolve(new LustreClientOptions(), Environment(("SLURM_JOB_ID", "1"), ("LUSTRE_JOBID", "mine"))).JobId);

    [Fact]
    public void A_named_variable_is_read_and_when_unset_jobid_name_is_used_as_Lustre_falls_back()
    {
        var options = new LustreClientOptions { JobIdVariable = "MY_JOB", JobIdName = "fallback" };

        Assert.Equal(("abc", "MY_JOB"), JobIds.Resolve(options, Environment(("MY_JOB", "abc"), ("SLURM_JOB_ID", "1"))));
        Assert.Equal(("fallback", "MY_JOB"), JobIds.Resolve(options, Environment(("SLURM_JOB_ID", "1"))));
    }

    [Fact]
    public void Disable_sends_no_job_id() =>
        Assert.Equal(string.Empty, JobIds.Resolve(new LustreClientOptions { JobIdVariable = "disable" }, Environment(("SLURM_JOB_ID", "1"))).JobId);

    [Fact]
    public void Procname_uid_and_the_default_jobid_name_are_the_executable_and_the_uid()
    {
        var (id, _) = JobIds.Resolve(new LustreClientOptions { JobIdVariable = "procname_uid" }, Environment());
        var expected = JobIds.Expand("%e.%u", Environment());

        Assert.Equal(expected, id);
        Assert.Matches(@"^[^.\s]+\.\w+$", id);
        Assert.Equal(expected, JobIds.Resolve(new LustreClientOptions(), Environment()).JobId);
    }

    [Theory]
    [InlineData("x %% y", "xy")]
    [InlineData("%.2j", "77")]
    [InlineData("run_%j", "run_7777")]
    [InlineData("%q%j", "7777")]
    [InlineData("%j-%p", "7777-PID")]
    public void Jobid_name_escapes_expand_as_jobid_interpret_string(string format, string expected) =>
        Assert.Equal(
            expected.Replace("PID", System.Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal),
            JobIds.Expand(format, Environment(("SLURM_JOB_ID", "7777"))));

    [Fact]
    public void A_long_value_is_cut_to_31_bytes_on_a_character_boundary()
    {
        var (id, _) = JobIds.Resolve(new LustreClientOptions(), Environment(("SLURM_JOB_ID", new string('é', 40))));

        Assert.Equal(15, id.Length);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(id) <= 31);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123456789012345678901234567890123")]
    public void A_job_id_option_out_of_Lustres_size_is_refused_naming_the_option(string jobId)
    {
        var error = Assert.Throws<ArgumentException>(() => new LustreClient("127.0.0.1:1/lustre", new LustreClientOptions { JobId = jobId }));
        Assert.Equal("JobId", error.ParamName);
    }
}
