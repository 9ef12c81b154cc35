namespace Lustre.Protocol;

/// <summary>A frame or message body broke the protocol; the peer that sent it is at fault.</summary>
internal sealed class ProtocolException : Exception
{
    public ProtocolException(string message)
        : base(message)
    {
    }

    public ProtocolException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ProtocolException()
    {
    }
}
