namespace Lustre.Tests;

public class SmokeTests
{
    [Fact]
    public void Sdk_assembly_loads()
    {
        Assert.Equal("Lustre.Sdk", typeof(Lustre.Protocol.FrameHeader).Assembly.GetName().Name);
    }
}
