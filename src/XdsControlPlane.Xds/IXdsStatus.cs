namespace XdsControlPlane.Xds;

/// <summary>The per-node view behind <c>/debug/syncz</c> and CSDS.</summary>
public interface IXdsStatus
{
    /// <summary>Streams open now.</summary>
    IReadOnlyList<XdsStreamStatus> Connected();

    /// <summary>The last few closed streams (bounded; their memory is released, only this record is kept).</summary>
    IReadOnlyList<XdsStreamStatus> RecentlyDisconnected();
}
